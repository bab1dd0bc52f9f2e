import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app";
import { closeDeps, createDeps } from "../../src/deps";
import { createLogger } from "../../src/log";
import { startIndexingWorker } from "../../src/memory/worker";
import { freePort, type RedisServer, startRedisServer } from "../../src/store/redis-server";
import { eventually, testConfig } from "../helpers/app";

const dir = mkdtempSync(join(tmpdir(), "mm-restart-"));
const port = await freePort();
const start = () => startRedisServer({ bin: "redis-server", dir, port, appendonly: true });
let redis: RedisServer = await start();
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("Redis restarted mid-ingest (AOF on): every 202 survives and gets indexed; 503 while down, then recovery", async () => {
  const config = testConfig(redis.url, { JOB_LOCK_MS: "2000", STALLED_INTERVAL_MS: "1000", OUTBOX_REDRIVE_MS: "2000", EMBED_BATCH_WAIT_MS: "10" });
  const deps = await createDeps(config, { log: createLogger("silent") });
  const app = createApp(deps);
  const worker = startIndexingWorker(deps);
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  try {
    await call("POST", "/v1/auth/register", { email: "r@example.com", username: "restart", password: "SecurePass123" });
    const token = (await call("POST", "/v1/auth/login", { email: "r@example.com", password: "SecurePass123" })).body.access_token;

    const accepted: string[] = [];
    let n = 0;
    /** Posts a message: accepted (202) or refused as unavailable (503), nothing else. */
    const post = async () => {
      const res = await call("POST", "/v1/messages", { tenant_id: "r", conversation_id: "c", role: "user", content: `message ${n++} before/after restart` }, token);
      if (res.status === 202) accepted.push(res.body.id);
      else expect({ status: res.status, code: res.body?.code }).toEqual({ status: 503, code: "service_unavailable" });
      return res.status;
    };
    for (let i = 0; i < 100; i++) expect(await post()).toBe(202);
    await redis.stop();
    expect((await call("GET", "/ready")).status).toBe(503);
    // Requests keep coming while Redis is down: refused with 503, never a 500...
    for (let i = 0; i < 20; i++) expect(await post()).toBe(503);
    // ...and while it comes back (same directory, AOF on); the API recovers by itself.
    const restarted = start().then((server) => {
      redis = server;
    });
    await eventually("a message accepted again", async () => (await post()) === 202, 20_000);
    await restarted;
    for (let i = 0; i < 100; i++) await post();
    await eventually("ready again", async () => (await call("GET", "/ready")).status === 200, 20_000);
    await eventually(
      "every accepted message indexed",
      async () => {
        // One listing per poll (every message of the tenant), not a request per message.
        const listed = await call("GET", "/v1/messages?tenant_id=r&limit=1000", undefined, token);
        expect(listed.status).toBe(200);
        const status = new Map<string, string>(listed.body.messages.map((m: { id: string; status: string }) => [m.id, m.status]));
        return accepted.every((id) => status.get(id) === "indexed");
      },
      60_000,
    );
  } finally {
    await worker.close();
    await closeDeps(deps);
  }
}, 120_000);
