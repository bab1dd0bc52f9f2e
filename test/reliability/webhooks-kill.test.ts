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
  const answered: string[] = [];
  receiver.answer = async (x) => {
    holding++;
    await released;
    answered.push(x.id);
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
  release();
  start();
  await eventually("every event delivered", () => {
    const messagesSeen = new Set(receiver.received.filter((x) => answered.includes(x.id)).map((x) => x.data.message.id));
    return ids.every((id: string) => messagesSeen.has(id));
  }, 120_000);
  const byId = new Map<string, Set<string>>();
  for (const x of receiver.received) byId.set(x.id, (byId.get(x.id) ?? new Set()).add(x.data.message.id));
  expect(byId.size).toBe(20);
  expect([...byId.values()].every((m) => m.size === 1)).toBe(true);
  process.stderr.write(`[webhooks-kill] ${receiver.received.length} requests for 20 events (${receiver.received.length - 20} retries after the kill)\n`);
  const log = await h.json("GET", `/v1/webhooks/${hook.id}/deliveries?limit=50`, { token });
  await eventually("every delivery recorded as succeeded", async () =>
    (await h.json("GET", `/v1/webhooks/${hook.id}/deliveries?limit=50`, { token })).body.deliveries.every((d: { status: string }) => d.status === "succeeded"),
  );
  expect(log.body.deliveries).toHaveLength(20);
}, 240_000);
