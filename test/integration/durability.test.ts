import { describe, expect, test } from "bun:test";
import { startIndexingWorker } from "../../src/memory/worker";
import { keys } from "../../src/store/keys";
import { queueOf } from "../../src/store/queue";
import { countVectors, eventually, useHarness } from "../helpers/app";
import { countIndexedEvents, spawnWorker } from "../helpers/processes";
import { serverEnv } from "../helpers/redis";

const FAST_RECOVERY = { JOB_LOCK_MS: "2000", STALLED_INTERVAL_MS: "1000", OUTBOX_REDRIVE_MS: "1500", EMBED_BATCH_SIZE: "16", EMBED_BATCH_WAIT_MS: "20" };
const h = useHarness(FAST_RECOVERY);
const root = new URL("../..", import.meta.url).pathname;

const startWorker = () => spawnWorker(h.redisUrl, FAST_RECOVERY);

async function statuses(token: string, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await h.json("GET", `/v1/messages/${encodeURIComponent(id)}`, { token })).body?.status));
}

describe("durability", () => {
  test("a dispatcher killed between taking accepted messages and queueing them loses nothing (outbox)", async () => {
    const { token, userId } = await h.account();
    const ids = ["crash-1", "crash-2", "crash-3"];
    const child = Bun.spawn(["bun", `${root}test/fixtures/accept-then-die.ts`, userId, "t", ...ids], {
      env: { ...process.env, ...serverEnv(), REDIS_URL: h.redisUrl, NODE_ENV: "test" },
      stdout: "pipe",
      stderr: "inherit",
    });
    await child.exited;
    expect(child.signalCode).toBe("SIGKILL");
    expect(await statuses(token, ids)).toEqual(["pending", "pending", "pending"]);
    expect(await h.deps.redis.llen(keys.dispatchOf(userId))).toBe(0);
    expect(await queueOf(h.deps.queues, userId).getJobCounts("waiting", "active", "delayed")).toEqual({ waiting: 0, active: 0, delayed: 0 });

    const worker = startIndexingWorker(h.deps);
    try {
      await eventually("indexed by the outbox sweeper", async () => (await statuses(token, ids)).every((s) => s === "indexed"), 30_000);
    } finally {
      await worker.close();
    }
    expect(await h.deps.redis.zcard(keys.outboxOf(userId))).toBe(0);
  });

  test("workers SIGKILLed mid-batch lose nothing and index every message exactly once", async () => {
    const { token, userId } = await h.account();
    const events = await countIndexedEvents(h.redisUrl);
    const indexedEvents = events.counts;

    const total = 400;
    const { body } = await h.json("POST", "/v1/messages/batch", {
      token,
      body: { messages: Array.from({ length: total }, (_, i) => ({ tenant_id: "k", conversation_id: `c${i % 7}`, role: "user", content: `fact ${i}: the sky was color ${i % 13} on day ${i}` })) },
    });
    const ids: string[] = body.created.map((m: { id: string }) => m.id);

    let worker = startWorker();
    try {
      for (const threshold of [16, 120]) {
        await eventually("some progress", () => indexedEvents.size >= threshold, 60_000);
        worker.kill("SIGKILL");
        await worker.exited;
        expect(worker.signalCode).toBe("SIGKILL");
        worker = startWorker();
      }
      await eventually("all indexed", () => indexedEvents.size === total, 90_000);
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await events.close();
    }
    expect((await statuses(token, ids)).every((s) => s === "indexed")).toBe(true);
    expect([...indexedEvents.values()].every((n) => n === 1)).toBe(true);
    expect(await countVectors(h.deps, userId, "k")).toBe(total);
  }, 180_000);
});
