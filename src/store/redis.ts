import "./tracing-compat";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log";

/**
 * Connection roles: the request path fails fast when Redis is away (so the API answers 503 at
 * once instead of queueing), workers wait and retry, and pub/sub subscribers get a connection of
 * their own. The request path does not auto-pipeline: each request makes one call, and ioredis'
 * per-flush Pipeline (which also copies every command BullMQ defined on the client) cost more than
 * the saved writes (API-only A/B, 6 interleaved pairs: 79 vs 95 us of server CPU per request).
 */
export type RedisRole = "request" | "worker" | "subscriber";

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  request: { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: false, commandTimeout: 5000 },
  worker: { maxRetriesPerRequest: null, enableAutoPipelining: true },
  subscriber: { maxRetriesPerRequest: null },
};

export function createRedis(url: string, role: RedisRole, log?: Logger): Redis {
  const client = new Redis(url, {
    ...ROLE_OPTIONS[role],
    connectionName: `memory-mesh-${role}`,
    lazyConnect: false,
    connectTimeout: 3000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  let down = false;
  client.on("error", (error) => {
    if (!down) log?.warn({ role, err: error.message }, "redis connection error");
    down = true;
  });
  client.on("ready", () => {
    if (down) log?.info({ role }, "redis connection restored");
    down = false;
  });
  return client;
}

/** Resolves when the client is ready, or rejects after `timeoutMs`. */
export async function waitReady(client: Redis, timeoutMs = 10_000): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off("ready", onReady);
    };
    client.on("ready", onReady);
  });
}

/**
 * Whether Redis answers PING within `timeoutMs`: a fail-fast (request) client answers false at once
 * while disconnected, a waiting (worker) one when the time is up.
 */
export function answersPing(client: Redis, timeoutMs = 1000): Promise<boolean> {
  const reply = client.ping().then(
    (r) => r === "PONG",
    () => false,
  );
  return Promise.race([reply, Bun.sleep(timeoutMs).then(() => false)]);
}

/** Closes a client politely, falling back to a hard disconnect if Redis is gone. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === "end") return;
  try {
    await Promise.race([client.quit(), Bun.sleep(1000).then(() => client.disconnect())]);
  } catch {
    client.disconnect();
  }
}
