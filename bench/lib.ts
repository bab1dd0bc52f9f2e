/**
 * Shared pieces of the benchmarks: a private redis-server (never 6379), or with BENCH_CLUSTER=1 a
 * private 3-master Redis Cluster, deps + app against it, an in-process request helper, a throwaway
 * account, percentiles and varied sentences. Everything talks to 127.0.0.1 only.
 */
import { createApp } from "../src/app";
import { type Config, loadConfig } from "../src/config";
import { closeDeps, createDeps, type Deps } from "../src/deps";
import { createLogger, type Logger } from "../src/log";
import type { Embedder } from "../src/store/embeddings";
import { allShards } from "../src/store/keys";
import { mastersOf, type RedisClient } from "../src/store/redis";
import { startTestCluster } from "../test/helpers/cluster";
import { startTestRedis } from "../test/helpers/redis";

/** BENCH_CLUSTER=1: every benchmark's Redis is a 3-master Redis Cluster (no replicas) instead of one redis-server. */
const benchOnCluster = () => process.env.BENCH_CLUSTER === "1";
/**
 * BENCH_CLUSTER_MASTERS: the cluster's masters (3; 1 = one cluster-mode node serving every slot,
 * which measures the cluster path without spreading Redis over more processes than cores).
 */
const clusterMasters = () => Math.max(1, Math.min(6, Number(process.env.BENCH_CLUSTER_MASTERS ?? 3)));

export interface Bench {
  /** one URL, or a cluster's seed URLs comma-separated (as REDIS_URL takes them) */
  redisUrl: string;
  /** whether `redisUrl` is a Redis Cluster (BENCH_CLUSTER=1) */
  cluster: boolean;
  /** what a child process (`bun workers/indexer.ts`) needs to reach this Redis: REDIS_URL, REDIS_CLUSTER */
  redisEnv: Record<string, string>;
  /** pids of the bench's redis-servers, one or every cluster node (for CPU figures) */
  redisPids: number[];
  config: Config;
  deps: Deps;
  app: ReturnType<typeof createApp>;
  json<T = any>(method: string, path: string, o?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<{ status: number; body: T }>;
  /** warn/error log lines seen so far, by message (the benchmarks run with logging silent). */
  warnings: Map<string, number>;
  /** Registers and logs in a fresh user; returns its access token. */
  account(): Promise<string>;
  close(): Promise<void>;
}

export function benchConfig(redisUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "silent",
    REDIS_URL: redisUrl,
    AUTH_RATE_LIMIT: "100000",
    AUTH_EMAIL_RATE_LIMIT: "100000",
    RATE_LIMIT_REQUESTS: "10000000",
    ACCOUNT_RATE_LIMIT_REQUESTS: "100000000",
    ACCESS_TOKEN_TTL_S: "86400",
    ...env,
  });
}

/** Counts warn/error lines by message, then passes them on to the real logger. */
export function countingLogger(inner: Logger, counts: Map<string, number>): Logger {
  const count = (level: string, c: object | string, m?: string) => {
    const key = `${level}: ${typeof c === "string" ? c : (m ?? "")}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  return {
    debug: (c, m) => inner.debug(c, m),
    info: (c, m) => inner.info(c, m),
    warn: (c, m) => {
      count("warn", c, m);
      inner.warn(c, m);
    },
    error: (c, m) => {
      count("error", c, m);
      inner.error(c, m);
    },
    child: () => countingLogger(inner, counts),
  };
}

export function printWarnings(counts: Map<string, number>): void {
  if (counts.size === 0) return void console.log("log warnings/errors: none");
  console.log("log warnings/errors:");
  for (const [k, n] of counts) console.log(`  ${n} x ${k}`);
}

/** What a bench runs against: one redis-server, or a Redis Cluster of `masters` masters (no replicas). */
export type BenchRedis = { cluster: false } | { cluster: true; masters: number };

/** BENCH_CLUSTER / BENCH_CLUSTER_MASTERS, for the benchmarks that run on one of the two. */
const benchRedisFromEnv = (): BenchRedis => (benchOnCluster() ? { cluster: true, masters: clusterMasters() } : { cluster: false });

/** One redis-server, or a cluster: its URL, the pids of its nodes and a stop. */
async function startBenchRedis(topology: BenchRedis): Promise<{ url: string; pids: number[]; stop(): Promise<void> }> {
  if (topology.cluster) {
    const cluster = await startTestCluster({ masters: topology.masters });
    return { url: cluster.url, pids: cluster.nodes.map((n) => n.pid), stop: cluster.stop };
  }
  const server = await startTestRedis();
  return { url: server.url, pids: [server.pid], stop: server.stop };
}

export async function startBench(env: Record<string, string> = {}, embedder?: Embedder, topology: BenchRedis = benchRedisFromEnv()): Promise<Bench> {
  const server = await startBenchRedis(topology);
  const cluster = topology.cluster;
  const redisEnv = { REDIS_URL: server.url, REDIS_CLUSTER: String(cluster) };
  let deps: Deps | undefined;
  try {
    const config = benchConfig(server.url, { REDIS_CLUSTER: String(cluster), ...env });
    const warnings = new Map<string, number>();
    deps = await createDeps(config, { log: countingLogger(createLogger(config.LOG_LEVEL), warnings), embedder });
    const app = createApp(deps);
    const d = deps;
    const json: Bench["json"] = async (method, path, o = {}) => {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let body: string | undefined;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] = "application/json";
      }
      const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const account = async () => {
      const n = `bench${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
      const email = `${n}@example.com`;
      const reg = await json("POST", "/v1/auth/register", { body: { email, username: n, password: "SecurePass123" } });
      if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
      const login = await json("POST", "/v1/auth/login", { body: { email, password: "SecurePass123" } });
      if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
      return login.body.access_token as string;
    };
    return {
      redisUrl: server.url, cluster, redisEnv, redisPids: server.pids, config, deps: d, app, json, account, warnings,
      async close() {
        await closeDeps(d);
        await server.stop();
      },
    };
  } catch (error) {
    if (deps) await closeDeps(deps).catch(() => undefined);
    await server.stop();
    throw error;
  }
}

/** Nearest-rank percentile of a list of numbers (sorted copy). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const fmt = (n: number, digits = 2) => n.toFixed(digits);

/** Deterministic PRNG (mulberry32), so runs are comparable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = ["I", "My sister", "Our team", "My manager", "My neighbour", "The kids", "My partner", "A friend of mine"];
const VERBS = ["started", "stopped", "really enjoys", "is thinking about", "keeps postponing", "finally finished", "wants to try", "has been struggling with"];
const OBJECTS = [
  "learning Python for data analysis", "training for a half marathon", "renovating the kitchen",
  "a vegetarian diet with lots of lentils", "the quarterly budget report", "playing the violin in a small orchestra",
  "a road trip along the Norwegian coast", "reading old science fiction novels", "growing tomatoes on the balcony",
  "migrating the database to PostgreSQL", "taking care of a rescued greyhound", "night shifts at the hospital",
  "planning a wedding for next September", "repairing a vintage motorcycle", "studying Japanese before the trip to Kyoto",
  "writing unit tests for the payment service",
];
const TAILS = [
  "", " last weekend", " since January", " because the doctor suggested it", " with mixed results",
  " and it is going better than expected", ", which takes most evenings", " despite the rainy weather",
  ", although money is tight this month", " together with two colleagues",
];

/** `n` varied, realistic-looking sentences (deterministic). */
export function sentences(n: number, seed = 42): string[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  return Array.from({ length: n }, (_, i) => `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)}${pick(TAILS)}. (#${i})`);
}

/** `n` chat-like texts of 100-300 characters (2-4 sentences joined; deterministic). */
export function chatTexts(n: number, seed = 42): string[] {
  const pool = sentences(n * 4, seed).map((s) => s.replace(/ \(#\d+\)$/, ""));
  return Array.from({ length: n }, (_, i) => {
    let text = `${pool[i * 4]}.`.replace(/\.\.$/, ".");
    for (let k = 1; k < 4 && text.length < 100; k++) text += ` ${pool[i * 4 + k]}`;
    return `${text.slice(0, 290)} (#${i})`;
  });
}

/** `bun workers/indexer.ts` as a child process against the bench's Redis (LOG_LEVEL=error, no metrics port). */
export function spawnWorker(b: Pick<Bench, "redisEnv">, env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", `${new URL("..", import.meta.url).pathname}workers/indexer.ts`], {
    env: { ...process.env, ...b.redisEnv, LOG_LEVEL: "error", WORKER_METRICS_PORT: "0", NODE_ENV: "test", ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return {
    pid: proc.pid,
    /** SIGTERM, then SIGKILL after 20 s. */
    async stop() {
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
      if (!done) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
}

/** VmRSS of a process in bytes (from /proc), NaN if unreadable. */
export async function rssOf(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text().catch(() => "");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

/** CPU time (user + system) some processes have used so far, summed, in ms. */
export async function cpuMsOfAll(pids: number[]): Promise<number> {
  const ms = await Promise.all(pids.map(cpuMsOf));
  return ms.reduce((a, b) => a + b, 0);
}

/** CPU time (user + system) a process has used so far, in ms (from /proc; clock ticks of 10 ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text().catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** INFO memory used_memory of a Redis, in bytes; of a cluster, summed over its masters. */
export async function usedMemory(redis: RedisClient): Promise<number> {
  const used = await Promise.all(mastersOf(redis).map(async (node) => Number(/used_memory:(\d+)/.exec(await node.info("memory"))?.[1] ?? Number.NaN)));
  return used.reduce((a, b) => a + b, 0);
}

export const mib = (bytes: number) => `${fmt(bytes / 1048576, 1)} MiB`;

/**
 * Open-loop load: calls `fire(i)` (not awaited) at `rate` per second for `seconds`, on a fixed
 * schedule, at most `rate * seconds` times. Resolves when the last call has been started.
 */
export async function paced(rate: number, seconds: number, fire: (i: number) => void): Promise<void> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    fire(i);
  }
}

/** A figure summed over every shard of the keyspace (outboxes, dispatch lists, stats). */
export async function sumShards(figure: (shard: number) => Promise<number>): Promise<number> {
  const values = await Promise.all(allShards().map(figure));
  return values.reduce((a, b) => a + b, 0);
}
