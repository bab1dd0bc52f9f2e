import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisServer, splitArgs, startRedisServer } from "../../src/store/redis-server";

/**
 * A private redis-server for one test file, on a free port, stopped by its pid. Never the
 * machine's Redis on 6379. `TEST_REDIS_ARGS` adds flags (e.g. `--loadmodule .../redisearch.so`
 * to run the suite against the Query Engine).
 */
export async function startTestRedis(options: { appendonly?: boolean; extraArgs?: string[] } = {}): Promise<RedisServer & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "mm-redis-"));
  const server = await startRedisServer({
    bin: process.env.REDIS_SERVER_BIN ?? "redis-server",
    dir,
    appendonly: options.appendonly ?? false,
    extraArgs: [...splitArgs(process.env.TEST_REDIS_ARGS ?? ""), ...(options.extraArgs ?? [])],
  });
  return {
    ...server,
    dir,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether the redis-server at `url` has vector search (the Query Engine). */
export async function hasVectorSearchAt(url: string): Promise<boolean> {
  const { createRedis, closeRedis, waitReady } = await import("../../src/store/redis");
  const { detectVectorSupport } = await import("../../src/store/vector-index");
  const probe = createRedis(url, "worker");
  try {
    await waitReady(probe);
    return await detectVectorSupport(probe);
  } finally {
    await closeRedis(probe);
  }
}

/** Whether a test redis-server (with TEST_REDIS_ARGS) has vector search: started, probed, stopped. */
export async function hasVectorSearch(): Promise<boolean> {
  const server = await startTestRedis();
  try {
    return await hasVectorSearchAt(server.url);
  } finally {
    await server.stop();
  }
}
