import { expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { eventually, useHarness } from "../helpers/app";
import { spawnWorker } from "../helpers/processes";
import { startReceiver } from "../helpers/receiver";

/**
 * A worker SIGKILLed while its deliveries are in flight (the receiver is holding them): another
 * worker takes them up when their locks lapse, and every event arrives; an event seen twice is the
 * same webhook-id again (a retry), never a second event.
 */
const ENV = { WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_TIMEOUT_MS: "1000", WEBHOOK_RETRY_SCHEDULE_MS: "100,200,400,800,1000,1000,1000,1000,1000,1000", JOB_LOCK_MS: "2000", STALLED_INTERVAL_MS: "1000", EMBED_BATCH_WAIT_MS: "10" };
const h = useHarness(ENV);
const spawned: Subprocess[] = [];
h.cleanup(async () => {
  for (const p of spawned) p.kill("SIGKILL");
  await Promise.all(spawned.map((p) => p.exited));
});

test("a worker SIGKILLed mid-delivery: every event is delivered, duplicates only as retries of the same webhook-id", async () => {
  const { token } = await h.account();
  const receiver = startReceiver();
  h.cleanup(() => receiver.stop());
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding = 0;
  receiver.answer = async () => {
    holding++;
    await released;
    return new Response("ok");
  };
  const hook = (await h.json("POST", "/v1/webhooks", { token, body: { url: receiver.url, events: ["message.created"] } })).body;
  const start = () => {
    const worker = spawnWorker(h.redisUrl, ENV);
    spawned.push(worker);
    return worker;
  };
  const first = start();
  const messages = Array.from({ length: 20 }, (_, i) => ({ tenant_id: "t", conversation_id: "c", role: "user", content: `event ${i}` }));
  const ids = (await h.json("POST", "/v1/messages/batch", { token, body: { messages } })).body.created.map((m: { id: string }) => m.id);
  await eventually("deliveries in flight at the receiver", () => holding >= 5, 60_000);
  first.kill("SIGKILL");
  await first.exited;
  const heldAtKill = holding;
  release();
  start();
  // Done when the log says every delivery succeeded: a success is recorded only once its answer came back.
  await eventually("every delivery recorded as succeeded", async () => {
    const { body } = await h.json("GET", `/v1/webhooks/${hook.id}/deliveries?limit=50`, { token });
    return body.deliveries.length === 20 && body.deliveries.every((d: { status: string }) => d.status === "succeeded");
  }, 120_000);
  const byId = new Map<string, Set<string>>();
  for (const x of receiver.received) byId.set(x.id, (byId.get(x.id) ?? new Set()).add(x.data.message.id));
  process.stderr.write(`[webhooks-kill] ${heldAtKill} deliveries in flight at the kill; ${receiver.received.length} requests for 20 events\n`);
  // Every message's event arrived; an event seen more than once is always the same webhook-id.
  expect(new Set([...byId.values()].flatMap((m) => [...m]))).toEqual(new Set(ids));
  expect([...byId.values()].every((m) => m.size === 1)).toBe(true);
  // The deliveries in flight when their worker died were sent again by the other worker.
  expect(receiver.received.length).toBeGreaterThanOrEqual(20 + heldAtKill);
}, 240_000);
