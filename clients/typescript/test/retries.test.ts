import { beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../../src/app";
import { freshWindow, useHarness } from "../../../test/helpers/app";
import { onCluster, startTestRedis } from "../../../test/helpers/redis";
import { MemoryMeshClient, type RetryOptions } from "../src/index";
import { failure, listen, recordingFetch } from "./support";

/**
 * Retries against the real server: a second API instance on the same Redis with a tiny rate limit
 * (real 429s with a short Retry-After), and one that waits for a replica (REDIS_WAIT_REPLICAS=1):
 * with none attached every store is a real 503 `not_replicated` (stored on the master, not yet
 * safe), until the test attaches one.
 */
const h = useHarness();
const LIMIT = 2;
const WINDOW_S = 2;
let limitedBase = "";
let replicatedBase = "";

beforeAll(() => {
  const limited = createApp({ ...h.deps, config: { ...h.deps.config, RATE_LIMIT_REQUESTS: LIMIT, RATE_LIMIT_WINDOW_S: WINDOW_S } });
  limitedBase = listen(limited);
  h.cleanup(() => limited.stop(true));
  const replicated = createApp({ ...h.deps, config: { ...h.deps.config, REDIS_WAIT_REPLICAS: 1, REDIS_WAIT_TIMEOUT_MS: 100 } });
  replicatedBase = listen(replicated);
  h.cleanup(() => replicated.stop(true));
});

async function clientOf(baseUrl: string, retry?: RetryOptions, onAnswer?: (status: number | "lost") => void) {
  const account = await h.account("retries");
  const recorder = recordingFetch();
  const fetch: typeof recorder.fetch = async (url, init) => {
    try {
      return await recorder.fetch(url, init);
    } finally {
      onAnswer?.(recorder.seen.at(-1)?.status ?? "lost");
    }
  };
  const client = new MemoryMeshClient({ baseUrl, accessToken: account.token, refreshToken: account.refresh, fetch, retry });
  return { client, ...recorder };
}

describe("429: wait Retry-After", () => {
  test("a read and a write past the limit wait their Retry-After, then go through (the write stored once)", async () => {
    const { client, seen, lines } = await clientOf(limitedBase);
    await freshWindow(WINDOW_S, 1500);
    await client.tenants.list();
    await client.tenants.get("app");
    const stored = await client.messages.store({ tenant_id: "app", conversation_id: "c", role: "user", content: "past the limit" });
    expect(lines()).toEqual(["GET /v1/tenants 200", "GET /v1/tenants/app 200", "POST /v1/messages 429", "POST /v1/messages 202"]);
    const [refused, accepted] = seen.slice(2);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(accepted.at - refused.at).toBeGreaterThanOrEqual(Number(refused.retryAfter) * 1000 - 50);
    expect(accepted.idempotencyKey).toBe(refused.idempotencyKey as string);
    const listed = await client.messages.list({ tenant_id: "app" });
    expect(listed.messages.map((m) => m.id)).toEqual([stored.id]);
  });

  test("out of attempts, or a Retry-After longer than allowed: the 429 is reported with its Retry-After", async () => {
    for (const retry of [{ maxAttempts: 1 }, { maxRetryAfterMs: 0 }]) {
      const { client, lines } = await clientOf(limitedBase, retry);
      await freshWindow(WINDOW_S, 1000);
      await client.tenants.list();
      await client.tenants.list();
      const error = await failure(client.tenants.list());
      expect({ status: error.status, code: error.code, retryAfter: error.retryAfter, details: error.details }).toEqual({
        status: 429,
        code: "rate_limited",
        retryAfter: expect.any(Number),
        details: { retry_after: error.retryAfter },
      });
      expect(lines()).toEqual(["GET /v1/tenants 200", "GET /v1/tenants 200", "GET /v1/tenants 429"]);
    }
  });
});

describe("503: exponential backoff", () => {
  test.skipIf(onCluster())("a store answered 503 is retried with the same key until a replica holds it; stored once", async () => {
    // No replica yet: every attempt is a 503, reported after the last one; the message is on the master.
    const short = await clientOf(replicatedBase, { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 40 });
    const unsafe = await failure(short.client.messages.store({ tenant_id: "app", conversation_id: "c", role: "user", content: "not yet replicated" }));
    expect({ status: unsafe.status, code: unsafe.code, details: unsafe.details, retryAfter: unsafe.retryAfter }).toEqual({
      status: 503,
      code: "not_replicated",
      details: { replicas: 0 },
      retryAfter: 1,
    });
    expect(short.lines()).toEqual(["POST /v1/messages 503", "POST /v1/messages 503", "POST /v1/messages 503"]);
    expect(new Set(short.seen.map((s) => s.idempotencyKey)).size).toBe(1);

    // Without an idempotency key a 503 is not retried: the message was stored, a repeat would store it twice.
    const unkeyed = await failure(short.client.messages.store({ tenant_id: "app", conversation_id: "c", role: "user", content: "no key" }, { idempotencyKey: null }));
    expect({ status: unkeyed.status, code: unkeyed.code }).toEqual({ status: 503, code: "not_replicated" });
    expect(short.lines().slice(3)).toEqual(["POST /v1/messages 503"]);

    // The first 503 of this call attaches a replica; the call retries until WAIT is answered by it.
    // (The master sends its first copy at once, not after the default 5 s wait for more replicas.)
    await h.deps.redis.config("SET", "repl-diskless-sync-delay", "0");
    const master = new URL(h.redisUrl);
    let replica: Promise<Awaited<ReturnType<typeof startTestRedis>>> | undefined;
    const patient = await clientOf(replicatedBase, { maxAttempts: 100, baseDelayMs: 50, maxDelayMs: 400 }, (status) => {
      if (status !== 503 || replica) return;
      replica = startTestRedis({ extraArgs: ["--replicaof", master.hostname, master.port] });
      h.cleanup(async () => (await replica)?.stop());
    });
    const stored = await patient.client.messages.store({ tenant_id: "app", conversation_id: "c", role: "user", content: "replicated in the end" });
    const statuses = patient.seen.map((s) => s.status);
    expect(statuses[0]).toBe(503);
    expect(statuses.at(-1)).toBe(202);
    expect(statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
    expect(new Set(patient.seen.map((s) => s.idempotencyKey)).size).toBe(1);
    const listed = await patient.client.messages.list({ tenant_id: "app" });
    expect(listed.messages.map((m) => [m.id, m.content])).toEqual([[stored.id, "replicated in the end"]]);
  }, 30_000);
});
