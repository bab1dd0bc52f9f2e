/**
 * Webhook deliveries to a local receiver (Bun.serve on loopback), with the real worker in process:
 *
 * 1. latency: messages stored one at a time at a slow pace (BENCH_RATE msg/s for BENCH_SECONDS s, an idle
 *    machine otherwise); for each, the time from `message.indexed` (heard on the shard's channel, as a
 *    socket would) to the receiver getting its signed delivery: p50/p95/p99 (goal p95 < 50 ms);
 * 2. throughput: BENCH_MESSAGES messages stored in batches at once, an endpoint subscribed to
 *    `message.created`: deliveries/s from the first to the last arrival (indexing runs meanwhile), next
 *    to a baseline of plain POSTs of the same bodies to the same receiver at the same concurrency.
 *
 *   bun run bench/webhooks.ts
 */
import { keys } from "../src/store/keys";
import { startIndexingWorker } from "../src/memory/worker";
import { chatTexts, fmt, percentile, startBench } from "./lib";

const RATE = Math.min(50, Number(process.env.BENCH_RATE ?? 10));
const SECONDS = Math.min(60, Number(process.env.BENCH_SECONDS ?? 15));
const MESSAGES = Math.min(20_000, Number(process.env.BENCH_MESSAGES ?? 5000));
const DEADLINE_MS = 300_000;

async function until(what: string, check: () => boolean | Promise<boolean>) {
  const end = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

async function main() {
  const b = await startBench({ WEBHOOK_ALLOW_PRIVATE: "true", RATE_LIMIT_REQUESTS: "10000000", ACCOUNT_RATE_LIMIT_REQUESTS: "10000000", EMBED_BATCH_WAIT_MS: "10" });
  const arrivals = new Map<string, number>();
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      await request.arrayBuffer();
      arrivals.set(request.headers.get("webhook-id") ?? "", performance.now());
      return new Response(null, { status: 204 });
    },
  });
  const url = `http://127.0.0.1:${receiver.port}/hook`;
  const worker = startIndexingWorker(b.deps);
  const subscriber = b.deps.connect("subscriber");
  try {
    const token = await b.account();
    const account = (await b.json<{ id: string }>("GET", "/v1/auth/me", { token })).body.id;
    const indexedAt = new Map<string, number>();
    subscriber.on("smessage", (_channel: string, raw: string) => {
      const { event } = JSON.parse(raw) as { event: { id: string; type: string } };
      if (event.type === "message.indexed") indexedAt.set(event.id, performance.now());
    });
    await subscriber.ssubscribe(keys.eventsChannelOf(account));

    // 1. latency at a slow pace
    const hook = await b.json<{ id: string }>("POST", "/v1/webhooks", { token, body: { url, events: ["message.indexed"] } });
    const texts = chatTexts(RATE * SECONDS + MESSAGES, 9);
    const total = RATE * SECONDS;
    for (let i = 0; i < total; i++) {
      const due = i * (1000 / RATE);
      const started = performance.now();
      await b.json("POST", "/v1/messages", { token, body: { tenant_id: "latency", conversation_id: "c", role: "user", content: texts[i] } });
      const wait = due - (performance.now() - started) + 1000 / RATE;
      if (wait > 0) await Bun.sleep(Math.min(wait, 1000 / RATE));
    }
    await until("every indexed event delivered", () => [...indexedAt.keys()].filter((id) => arrivals.has(id)).length >= total);
    const latencies = [...indexedAt].flatMap(([id, at]) => (arrivals.has(id) ? [(arrivals.get(id) as number) - at] : []));
    console.log(`webhook benchmark: engine=${b.deps.vectors.engine}, WEBHOOK_CONCURRENCY=${b.config.WEBHOOK_CONCURRENCY}, loopback receiver`);
    console.log(`latency message.indexed -> receiver, ${latencies.length} events at ${RATE} msg/s: p50 ${fmt(percentile(latencies, 50), 1)} ms  p95 ${fmt(percentile(latencies, 95), 1)} ms  p99 ${fmt(percentile(latencies, 99), 1)} ms  (goal p95 < 50 ms)`);
    await b.json("PATCH", `/v1/webhooks/${hook.body.id}`, { token, body: { enabled: false } });

    // 2. throughput
    arrivals.clear();
    await b.json("POST", "/v1/webhooks", { token, body: { url, events: ["message.created"] } });
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i += 1000) {
      const messages = texts.slice(total + i, total + Math.min(MESSAGES, i + 1000)).map((content, j) => ({ tenant_id: "bulk", conversation_id: `c${j % 10}`, role: "user", content }));
      await b.json("POST", "/v1/messages/batch", { token, body: { messages } });
    }
    await until("every created event delivered", () => arrivals.size >= MESSAGES);
    const times = [...arrivals.values()];
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    console.log(`throughput: ${MESSAGES} deliveries in ${fmt(span, 2)} s from first to last arrival = ${fmt(MESSAGES / span, 0)} deliveries/s (${fmt((Math.max(...times) - t0) / 1000, 2)} s after the first batch was sent; indexing ran meanwhile)`);

    // baseline: the same number of POSTs of a similar body, at the same concurrency, straight to the receiver
    const body = JSON.stringify({ type: "message.created", timestamp: new Date().toISOString(), data: { message: { content: texts[0] } } });
    arrivals.clear();
    const concurrency = b.config.WEBHOOK_CONCURRENCY;
    const t1 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          await fetch(url, { method: "POST", headers: { "content-type": "application/json", "webhook-id": `base-${i}` }, body });
        }
      }),
    );
    const baseline = MESSAGES / ((performance.now() - t1) / 1000);
    console.log(`baseline: plain POSTs to the receiver at concurrency ${concurrency}: ${fmt(baseline, 0)} requests/s; webhook deliveries reach ${fmt(MESSAGES / span / baseline, 2)} of it`);
  } finally {
    subscriber.disconnect();
    await worker.close();
    receiver.stop(true);
    await b.close();
  }
}

await main();
