import { expect, test } from "bun:test";
import { connect } from "node:net";
import type { Subprocess } from "bun";
import { freePort } from "../../src/store/redis-server";
import { eventually, useHarness } from "../helpers/app";
import { spawnWorker } from "../helpers/processes";
import { serverEnv } from "../helpers/redis";

/**
 * Crash safety of the data lifecycle: a worker SIGKILLed in the middle of a delete job, and the API
 * SIGKILLed in the middle of an import. After a restart the job completes (the import is re-run)
 * and nothing is half-deleted, counted twice or imported twice.
 */
const ENV = { JOB_LOCK_MS: "2000", STALLED_INTERVAL_MS: "1000", OUTBOX_REDRIVE_MS: "3000", RATE_LIMIT_REQUESTS: "1000000", ACCOUNT_RATE_LIMIT_REQUESTS: "1000000", MAX_IMPORT_BYTES: "500000000" };
const h = useHarness(ENV);
const root = new URL("../..", import.meta.url).pathname;
const spawned: Subprocess[] = [];
// Before the harness stops Redis, so no process of ours outlives it.
h.cleanup(async () => {
  for (const p of spawned) p.kill("SIGKILL");
  await Promise.all(spawned.map((p) => p.exited));
});

/** NDJSON lines of messages carrying unit vectors of the server's model (stored indexed, no embedding). */
function lines(count: number, dims: number, model: string): string[] {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  return Array.from({ length: count }, (_, i) => {
    const v = Float32Array.from({ length: dims }, random);
    const norm = Math.hypot(...v);
    for (let d = 0; d < dims; d++) v[d] /= norm;
    return JSON.stringify({
      id: `m${i}`, conversation_id: `c${i % 20}`, role: i % 2 ? "assistant" : "user", content: `note ${i} about topic ${i % 97}`,
      metadata: { batch: i % 4 === 0 ? "old" : "new" }, created_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      vector: Buffer.from(v.buffer).toString("base64"), vector_model: model,
    });
  });
}

async function importInProcess(token: string, tenant: string, body: string) {
  const res = await h.app.handle(new Request(`http://localhost/v1/tenants/${tenant}/import`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" }, body }));
  return res.json();
}

test("a worker SIGKILLed in the middle of a delete job: another finishes it, every match deleted and counted once", async () => {
  const { token } = await h.account();
  const total = 20_000;
  const report = await importInProcess(token, "t", lines(total, h.deps.embedder.dimensions, h.deps.embedder.modelKey).join("\n"));
  expect(report).toMatchObject({ imported: total, with_vectors: total });
  let worker = spawnWorker(h.redisUrl, ENV);
  spawned.push(worker);
  const job = (await h.json("POST", "/v1/messages/delete", { token, body: { tenant_id: "t", metadata: { batch: "old" } } })).body;
  const before = await eventually("the job under way", async () => {
    const { body } = await h.json("GET", `/v1/jobs/${job.id}`, { token });
    return body.deleted > 0 ? body : undefined;
  }, 60_000);
  worker.kill("SIGKILL");
  await worker.exited;
  const atKill = (await h.json("GET", `/v1/jobs/${job.id}`, { token })).body;
  process.stderr.write(`[data-jobs-kill] worker killed with ${atKill.deleted} of ${total / 4} deleted (${atKill.status})\n`);
  expect(before.status).toBe("running");
  worker = spawnWorker(h.redisUrl, ENV);
  spawned.push(worker);
  const done = await eventually("the job completed", async () => {
    const { body } = await h.json("GET", `/v1/jobs/${job.id}`, { token });
    return body.status === "completed" ? body : undefined;
  }, 120_000);
  worker.kill("SIGTERM");
  await worker.exited;
  expect(done.deleted).toBe(total / 4);
  expect((await h.json("GET", "/v1/tenants/t", { token })).body).toMatchObject({ messages: total - total / 4, indexed: total - total / 4, pending: 0 });
  const old = await h.json("POST", "/v1/memory/search", { token, body: { tenant_id: "t", query: "note about topic", metadata: { batch: "old" }, mode: "keyword" } });
  expect(old.body.results).toEqual([]);
}, 300_000);

test("the API SIGKILLed in the middle of an import: re-running it imports the rest, nothing twice", async () => {
  const { token } = await h.account();
  const total = 6000;
  const all = lines(total, h.deps.embedder.dimensions, h.deps.embedder.modelKey);
  const port = await freePort();
  const startApi = () => {
    // The server itself (what `bun run api` runs), so a SIGKILL reaches it and not a parent `bun run`.
    const api = Bun.spawn(["bun", "--max-http-header-size=65536", `${root}src/main.ts`], {
      cwd: root,
      env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "error", ...serverEnv(), ...ENV, REDIS_URL: h.redisUrl, PORT: String(port), API_METRICS_PORT: "0" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    spawned.push(api);
    return api;
  };
  const ready = () => eventually("api listening", async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok, 60_000);
  const stored = async () => (await h.json("GET", "/v1/tenants/t", { token })).body.messages as number;
  const api = startApi();
  await ready();
  // Over a raw socket, chunked: the first half of the body is sent, the rest never is (the API dies first).
  const socket = connect(port, "127.0.0.1");
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => undefined);
  const half = Buffer.from(`${all.slice(0, total / 2).join("\n")}\n`);
  socket.write(
    `POST /v1/tenants/t/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n${half.length.toString(16)}\r\n`,
  );
  socket.write(half);
  socket.write("\r\n");
  await eventually("part of the import stored", async () => (await stored()) > 0, 60_000);
  api.kill("SIGKILL");
  await api.exited;
  await closed;
  const partial = await stored();
  process.stderr.write(`[data-jobs-kill] API killed with ${partial} of ${total} imported\n`);
  expect(partial).toBeLessThan(total);

  startApi();
  await ready();
  const rerun = await fetch(`http://127.0.0.1:${port}/v1/tenants/t/import`, {
    method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" }, body: all.join("\n"),
  });
  expect(await rerun.json()).toMatchObject({ lines: total, imported: total - partial, unchanged: partial, rejected: 0 });
  expect((await h.json("GET", "/v1/tenants/t", { token })).body).toMatchObject({ messages: total, indexed: total, pending: 0, conversations: 20 });
  const conversations = (await h.json("GET", "/v1/conversations?tenant_id=t&limit=100", { token })).body.conversations as { message_count: number }[];
  expect(conversations.reduce((n, c) => n + c.message_count, 0)).toBe(total);
  const history = (await h.json("GET", "/v1/conversations/c3/messages?tenant_id=t&limit=1000", { token })).body;
  expect(history.total).toBe(total / 20);
  expect(history.messages.map((m: { id: string }) => m.id)).toEqual(Array.from({ length: total / 20 }, (_, i) => `m${i * 20 + 3}`));
}, 300_000);
