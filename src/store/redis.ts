import "./tracing-compat";
import { Cluster, type ClusterNode, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log";

/**
 * Connection roles: the request path fails fast when Redis is away (so the API answers 503 at
 * once instead of queueing), workers wait and retry, and pub/sub subscribers get a connection of
 * their own. The request path does not auto-pipeline: each request makes one call, and ioredis'
 * per-flush Pipeline (which also copies every command BullMQ defined on the client) cost more than
 * the saved writes (API-only A/B, 6 interleaved pairs: 79 vs 95 us of server CPU per request).
 */
export type RedisRole = "request" | "worker" | "blocking" | "subscriber";

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  request: { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: false, commandTimeout: 5000 },
  worker: { maxRetriesPerRequest: null, enableAutoPipelining: true },
  // Blocking reads (a dispatcher's BLMPOP, 1 s) that never hang on a node that went away: past 5 s
  // the command fails and the reader asks again, by then of the node's successor.
  blocking: { maxRetriesPerRequest: null, commandTimeout: 5000 },
  subscriber: { maxRetriesPerRequest: null },
};

/** One Redis or a Redis Cluster: the same commands; cluster-only work (every master) goes through `mastersOf`. */
export type RedisClient = Redis | Cluster;

/** Seed nodes of a cluster from REDIS_URL: one URL or several, comma-separated. */
export function clusterSeeds(url: string): ClusterNode[] {
  return url.split(",").map((seed) => {
    const u = new URL(seed.trim());
    return { host: u.hostname, port: Number(u.port || 6379) };
  });
}

/**
 * A connection of a role to one Redis (`url`) or, with `cluster`, to the Redis Cluster whose seed
 * nodes `url` lists (comma-separated). Passwords and TLS come from the (first) URL either way.
 */
export function createRedis(url: string, role: RedisRole, log?: Logger, cluster = false): RedisClient {
  const options: RedisOptions = {
    ...ROLE_OPTIONS[role],
    connectionName: `memory-mesh-${role}`,
    lazyConnect: false,
    connectTimeout: 3000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  let client: RedisClient;
  if (cluster) {
    const first = new URL(url.split(",")[0].trim());
    // Node connections do not retry on their own: a dead master is replaced, and the cluster's
    // redirections and slot refreshes find its successor.
    const { retryStrategy: _, ...redisOptions }: RedisOptions = { ...options };
    if (first.password) redisOptions.password = decodeURIComponent(first.password);
    if (first.username) redisOptions.username = decodeURIComponent(first.username);
    if (first.protocol === "rediss:") redisOptions.tls = {};
    client = new Cluster(clusterSeeds(url), {
      redisOptions,
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      enableAutoPipelining: options.enableAutoPipelining ?? false,
      // A subscriber hears sharded channels (SSUBSCRIBE) on the master that owns each.
      shardedSubscribers: role === "subscriber",
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      // Through a failover (node timeout + election, a few seconds) commands wait and follow the
      // new topology instead of failing after the default 16 quick redirections.
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 300,
      maxRedirections: 40,
      slotsRefreshInterval: 2000,
    });
  } else {
    client = new Redis(url, options);
  }
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
export async function waitReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
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
export function answersPing(client: RedisClient, timeoutMs = 1000): Promise<boolean> {
  const reply = client.ping().then(
    (r) => r === "PONG",
    () => false,
  );
  return Promise.race([reply, Bun.sleep(timeoutMs).then(() => false)]);
}

/** Closes a client politely, falling back to a hard disconnect if Redis is gone. */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status === "end") return;
  try {
    await Promise.race([client.quit(), Bun.sleep(1000).then(() => client.disconnect())]);
  } catch {
    client.disconnect();
  }
}

/**
 * The clients that together hold every key: each master of a cluster, or the one Redis. Admin
 * paths that walk the key space (SCAN) visit each.
 */
export function mastersOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}

/** Keys matching `pattern` on every master, a SCAN step at a time (no single command holds Redis up). */
export async function* scanKeys(client: RedisClient, pattern: string, count = 500): AsyncGenerator<string[]> {
  for (const node of mastersOf(client)) {
    let cursor = "0";
    do {
      const [next, found] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== "0");
  }
}

/** Unlinks keys one command each (keys of different slots may not share a command on a cluster). */
export async function unlinkKeys(client: RedisClient, found: string[]): Promise<number> {
  const pipeline = client.pipeline();
  for (const key of found) pipeline.unlink(key);
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce((n, [error, deleted]) => n + (error ? 0 : Number(deleted)), 0);
}
