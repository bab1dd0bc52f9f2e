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
    const statuses = new Map<number, number>();
    let readyWhileDown = 0;
    let restarted = false;
    const deadline = Date.now() + 8000;
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      if (i === 100) {
        await redis.stop();
        readyWhileDown = (await call("GET", "/ready")).status;
        restarted = true;
        setTimeout(async () => {
          redis = await start();
        }, 1000);
      }
      const res = await call("POST", "/v1/messages", { tenant_id: "r", conversation_id: "c", role: "user", content: `message ${i} before/after restart` }, token);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) accepted.push(res.body.id);
      else expect(res.body).toMatchObject({ code: "service_unavailable" });
      await Bun.sleep(10);
    }
    expect(restarted).toBe(true);
    expect(readyWhileDown).toBe(503);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].sort()).toEqual([202, 503]);
    await eventually("ready again", async () => (await call("GET", "/ready")).status === 200, 20_000);
    await eventually(
      "every accepted message indexed",
      async () => {
        const all = await Promise.all(accepted.map((id) => call("GET", `/v1/messages/${id}`, undefined, token)));
        return all.every((r) => r.body?.status === "indexed");
      },
      60_000,
    );
    expect(accepted.length).toBeGreaterThan(150);
  } finally {
    await worker.close();
    await closeDeps(deps);
  }
}, 120_000);
