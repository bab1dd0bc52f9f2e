import { expect, test } from "bun:test";
import { countVectors, eventually, useHarness } from "../helpers/app";
import { countIndexedEvents, spawnWorker } from "../helpers/processes";

/**
 * 5,000 messages ingested while worker processes are SIGKILLed again and again: every message
 * must end `indexed`, with exactly one `message.indexed` event and exactly one vector each.
 */
const ENV = { JOB_LOCK_MS: "2000", STALLED_INTERVAL_MS: "1000", OUTBOX_REDRIVE_MS: "3000", EMBED_BATCH_WAIT_MS: "20" };
const h = useHarness(ENV);
const TOTAL = 5000;
const KILL_EVERY_MS = 4000;

test(`${TOTAL} messages, workers SIGKILLed every ${KILL_EVERY_MS / 1000} s: all indexed exactly once`, async () => {
  const { token, userId } = await h.account();
  const startWorker = () => spawnWorker(h.redisUrl, ENV);
  const events = await countIndexedEvents(h.redisUrl);
  const indexed = events.counts;

  const workers = [startWorker(), startWorker()];
  let kills = 0;
  const killer = setInterval(() => {
    const victim = kills % workers.length;
    workers[victim].kill("SIGKILL");
    workers[victim] = startWorker();
    kills++;
  }, KILL_EVERY_MS);
  const ids: string[] = [];
  try {
    // Ingest in batches of 100 while workers are being killed, a batch whenever fewer than 1,000
    // accepted messages wait, so accepting goes on through many kills.
    for (let b = 0; b < TOTAL / 100; b++) {
      await eventually("the backlog below 1,000", () => ids.length - indexed.size < 1000, 120_000);
      const messages = Array.from({ length: 100 }, (_, i) => ({
        tenant_id: "soak", conversation_id: `c${b % 10}`, role: i % 2 ? "assistant" : "user",
        content: `note ${b * 100 + i}: the meeting about topic ${i % 37} moved to room ${b % 11}`,
      }));
      const { status, body } = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
      expect(status).toBe(202);
      ids.push(...body.created.map((m: { id: string }) => m.id));
    }
    await eventually("every message indexed", () => indexed.size >= TOTAL, 400_000);
  } finally {
    clearInterval(killer);
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await events.close();
  }
  process.stderr.write(`[worker-kill] ${TOTAL} messages, ${kills} kills\n`);
  expect(kills).toBeGreaterThan(3);
  expect(ids).toHaveLength(TOTAL);
  expect([...indexed.values()].filter((n) => n !== 1)).toEqual([]);
  const missing = ids.filter((id) => !indexed.has(id));
  expect(missing).toEqual([]);
  expect(await countVectors(h.deps, userId, "soak")).toBe(TOTAL);
  const statuses = await Promise.all(ids.slice(0, 200).map(async (id) => (await h.json("GET", `/v1/messages/${id}`, { token })).body.status));
  expect(new Set(statuses)).toEqual(new Set(["indexed"]));
}, 600_000);
