import { afterAll, beforeAll } from "bun:test";
import { createApp } from "../../src/app";
import { forgetRevoked } from "../../src/auth/revocation";
import { type Config, loadConfig } from "../../src/config";
import { closeDeps, createDeps, type Deps } from "../../src/deps";
import { createLogger } from "../../src/log";
import { createRealtime, type Realtime } from "../../src/realtime/hub";
import { type IndexingWorker, startIndexingWorker } from "../../src/memory/worker";
import type { Embedder } from "../../src/store/embeddings";
import { scanKeys } from "../../src/store/redis";
import { startTestCluster, type TestCluster } from "./cluster";
import { onCluster, startTestRedis } from "./redis";

export type TestEnv = Record<string, string>;

/**
 * A test's configuration. Rate limits are lifted: tests poll (a GET per message every 50 ms while
 * waiting for indexing), and on a loaded machine a default budget ran out mid-wait, so the polls read
 * 429s as "not indexed yet". The tests of rate limits set their own limits.
 */
export function testConfig(redisUrl: string, env: TestEnv = {}): Config {
  return loadConfig({
    NODE_ENV: "test", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent", REDIS_URL: redisUrl,
    AUTH_RATE_LIMIT: "100000", AUTH_EMAIL_RATE_LIMIT: "100000", RATE_LIMIT_REQUESTS: "1000000", ACCOUNT_RATE_LIMIT_REQUESTS: "10000000", ...env,
  });
}

export interface Harness {
  redisUrl: string;
  deps: Deps;
  app: ReturnType<typeof createApp>;
  realtime?: Realtime;
  worker?: IndexingWorker;
  /** the test cluster, when the harness runs on one */
  cluster?: TestCluster;
  /** In-process request: `app.handle(new Request('http://localhost/...'))`. */
  request(method: string, path: string, options?: { body?: unknown; token?: string; apiKey?: string; headers?: Record<string, string> }): Promise<Response>;
  json<T = any>(method: string, path: string, options?: { body?: unknown; token?: string; apiKey?: string; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
  /** Runs `fn` when the file ends, before the app's Redis is closed (last registered, first run). */
  cleanup(fn: () => Promise<unknown> | unknown): void;
  /** Registers a fresh account and returns its access token. */
  account(name?: string): Promise<{ token: string; refresh: string; userId: string; email: string }>;
}

let counter = 0;

/**
 * Starts a private Redis (or Redis Cluster) for the test file and builds deps + app against it (in
 * beforeAll); everything is closed and the Redis stopped by pid in afterAll.
 */
export interface HarnessOptions {
  embedder?: Embedder;
  realtime?: boolean;
  worker?: boolean;
  /** run on a Redis Cluster of its own (see startTestCluster) instead of one redis-server */
  cluster?: { masters?: number; replicas?: number };
  /** receives the app's log lines (at the config's LOG_LEVEL) instead of stdout/stderr */
  logSink?: (line: string) => void;
}

export function useHarness(env: TestEnv = {}, options: HarnessOptions = {}): Harness {
  const h = {} as Harness;
  let stopRedis: () => Promise<void> = async () => undefined;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  h.cleanup = (fn) => {
    cleanups.push(fn);
  };
  beforeAll(async () => {
    const cluster = options.cluster ?? (onCluster() ? {} : undefined);
    const redis = cluster ? await startTestCluster(cluster) : await startTestRedis();
    if ("nodes" in redis) h.cluster = redis;
    stopRedis = redis.stop;
    h.redisUrl = redis.url;
    const config = testConfig(redis.url, cluster ? { REDIS_CLUSTER: "true", ...env } : env);
    h.deps = await createDeps(config, { log: createLogger(config.LOG_LEVEL, {}, options.logSink), embedder: options.embedder });
    if (options.realtime) h.realtime = await createRealtime(h.deps, (revocation) => forgetRevoked(h.deps, revocation));
    h.app = createApp(h.deps, h.realtime);
    if (options.worker) h.worker = startIndexingWorker(h.deps);
  }, 60_000);
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await h.worker?.close();
    await h.realtime?.close();
    if (h.deps) await closeDeps(h.deps);
    await stopRedis();
  }, 30_000);

  h.request = (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.apiKey) headers["x-api-key"] = o.apiKey;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
      headers["content-type"] ??= "application/json";
    }
    return h.app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
  };
  h.json = async (method, path, o) => {
    const response = await h.request(method, path, o);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  h.account = async (name) => {
    const n = `${name ?? "user"}${process.pid}x${++counter}`;
    const email = `${n}@example.com`;
    const reg = await h.json("POST", "/v1/auth/register", { body: { email, username: n, password: "SecurePass123" } });
    if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
    const login = await h.json("POST", "/v1/auth/login", { body: { email, password: "SecurePass123" } });
    return { token: login.body.access_token, refresh: login.body.refresh_token, userId: reg.body.id, email };
  };
  return h;
}

/** Polls until `check` returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(50);
  }
}

/** How many vectors an account's tenant has stored, on either engine (key names from the index itself). */
export async function countVectors(deps: Deps, account: string, tenant: string): Promise<number> {
  const { docKey, exactKey } = deps.vectors.removalFor(account, tenant, "*");
  if (deps.vectors.engine === "exact") return deps.redis.hlen(exactKey);
  let count = 0;
  for await (const found of scanKeys(deps.redis, docKey)) count += found.length; // every master of a cluster
  return count;
}

/**
 * Rate-limit windows start at multiples of their length since the epoch. Waits for the next window when the
 * current one has less than `needMs` left, so a test never straddles a boundary (the count would
 * start again from zero). Returns when the window the test runs in ends (ms since the epoch).
 */
export async function freshWindow(windowS: number, needMs = 30_000): Promise<number> {
  const windowMs = windowS * 1000;
  const endOf = (t: number) => (Math.floor(t / windowMs) + 1) * windowMs;
  const end = endOf(Date.now());
  if (end - Date.now() >= needMs) return end;
  await eventually("the next rate-limit window", () => Date.now() >= end, needMs + 5_000);
  return endOf(Date.now());
}
