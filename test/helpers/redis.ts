import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisServer, splitArgs, startRedisServer } from "../../src/store/redis-server";
import { startTestCluster } from "./cluster";

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
export async function hasVectorSearchAt(url: string, cluster = false): Promise<boolean> {
  const { createRedis, closeRedis, waitReady } = await import("../../src/store/redis");
  const { detectVectorSupport } = await import("../../src/store/vector-support");
  const probe = createRedis(url, "worker", undefined, cluster);
  try {
    await waitReady(probe);
    return await detectVectorSupport(probe);
  } finally {
    await closeRedis(probe);
  }
}

/**
 * Whether a test redis-server (with TEST_REDIS_ARGS) has vector search: started, probed, stopped.
 * Under TEST_REDIS_CLUSTER, a test cluster (with TEST_CLUSTER_ARGS) is probed instead.
 */
export async function hasVectorSearch(): Promise<boolean> {
  const server = onCluster() ? await startTestCluster() : await startTestRedis();
  try {
    return await hasVectorSearchAt(server.url, onCluster());
  } finally {
    await server.stop();
  }
}

/** A private server for one test file: a test cluster under TEST_REDIS_CLUSTER, else one redis-server. */
export async function startTestServer(): Promise<{ url: string; stop(): Promise<void> }> {
  return onCluster() ? startTestCluster() : startTestRedis();
}

/** The configuration a test server needs (REDIS_CLUSTER on a cluster). */
export const serverEnv = (): Record<string, string> => (onCluster() ? { REDIS_CLUSTER: "true" } : {});

/** TEST_REDIS_CLUSTER=1 runs every harness on a 3-master cluster of its own instead of one redis-server. */
export const onCluster = () => process.env.TEST_REDIS_CLUSTER === "1";
