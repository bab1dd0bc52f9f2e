/**
 * Soak: steady ingest through the API over real HTTP (API in this process, listening on a free
 * loopback port) with the indexing worker as a separate process. Every 10 s: API RSS, worker RSS
 * (/proc VmRSS), Redis used_memory, outbox backlog and indexed count; at the end first vs last
 * RSS and a flatness verdict. No GC is forced: Bun's GC is lazy, so RSS climbs to a plateau.
 *
 *   bun run bench/soak.ts        (BENCH_RATE=50, BENCH_SECONDS=180, capped at 900)
 */
import { cpus, loadavg } from "node:os";
import { keys } from "../src/store/keys";
import { freePort } from "../src/store/redis-server";
import { chatTexts, fmt, mib, paced, printWarnings, rssOf, spawnWorker, startBench, usedMemory, sumShards } from "./lib";

const RATE = Math.max(1, Math.min(200, Number(process.env.BENCH_RATE ?? 50)));
const SECONDS = Math.max(10, Math.min(900, Number(process.env.BENCH_SECONDS ?? 180)));
const SAMPLE_MS = 10_000;
const verdict = (growth: number) => (Math.abs(growth) < 0.05 ? "FLAT (plateau)" : growth < 0 ? "falling (no growth)" : "GROWING");
const DRAIN_MS = 60_000;
const DISTINCT = 2000;

interface Row {
  t: number;
  api: number;
  heap: number;
  worker: number;
  redis: number;
  outbox: number;
  indexed: number;
  accepted: number;
}

async function main() {
  const b = await startBench();
  const port = await freePort();
  b.app.listen({ hostname: "127.0.0.1", port });
  const worker = spawnWorker(b);
  const rows: Row[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const token = await b.account();
    const texts = chatTexts(DISTINCT, 13);
    let accepted = 0;
    let failed = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const post = async (i: number) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ tenant_id: `t${i % 5}`, conversation_id: `c${i % 200}`, role: i % 2 ? "assistant" : "user", content: `${texts[i % DISTINCT]} [${i}]` }),
        });
        await res.arrayBuffer();
        if (res.status === 202) accepted++;
        else failed++;
      } catch {
        failed++;
      } finally {
        inFlight--;
      }
    };
    const indexedCount = async () => sumShards(async (k) => Number((await b.deps.redis.hget(keys.stats(k), "indexed")) ?? 0));
    // warm-up: the worker loads its model
    await post(0);
    const w0 = performance.now();
    while ((await indexedCount()) < 1 && performance.now() - w0 < 60_000) await Bun.sleep(100);

    const t0 = performance.now();
    const sample = async () => {
      const row: Row = {
        t: (performance.now() - t0) / 1000,
        api: process.memoryUsage().rss,
        heap: process.memoryUsage().heapUsed,
        worker: await rssOf(worker.pid),
        redis: await usedMemory(b.deps.redis),
        outbox: await sumShards((k) => b.deps.redis.zcard(keys.outbox(k))),
        indexed: await indexedCount(),
        accepted,
      };
      rows.push(row);
      console.log(
        `${fmt(row.t, 0).padStart(5)} s  API rss ${mib(row.api).padStart(10)} (heap ${mib(row.heap)})  worker rss ${mib(row.worker).padStart(10)}  redis ${mib(row.redis).padStart(9)}  outbox ${String(row.outbox).padStart(5)}  indexed ${row.indexed}/${row.accepted}`,
      );
    };
    console.log(`soak: ${RATE} msg/s for ${SECONDS} s over HTTP (API in process, worker = separate process pid ${worker.pid}), EMBED_BATCH_SIZE=${b.config.EMBED_BATCH_SIZE}`);
    console.log(`load average at start: ${loadavg().map((x) => fmt(x)).join(" ")} (${cpus().length} CPUs)`);
    await sample();
    sampler = setInterval(() => void sample(), SAMPLE_MS);
    const pending: Promise<void>[] = [];
    await paced(RATE, SECONDS, (i) => {
      pending.push(post(i + 1));
    });
    await Promise.all(pending);
    clearInterval(sampler);
    const sentAt = performance.now();
    while ((await indexedCount()) < accepted && performance.now() - sentAt < DRAIN_MS) await Bun.sleep(250);
    await sample();
    const drainS = (performance.now() - sentAt) / 1000;

    const first = rows[0];
    const last = rows[rows.length - 1];
    const third = Math.max(1, Math.floor(rows.length / 3));
    const mid = rows.slice(third, 2 * third);
    const tail = rows.slice(-third);
    const mean = (xs: Row[], f: (r: Row) => number) => xs.reduce((a, r) => a + f(r), 0) / Math.max(1, xs.length);
    console.log("");
    console.log(`accepted ${accepted} (incl. 1 warm-up), non-202/errors ${failed}, most requests in flight ${maxInFlight}; indexed ${last.indexed}; drain after the last request ${fmt(drainS, 1)} s`);
    console.log(`ingest achieved: ${fmt((accepted - 1) / SECONDS, 1)} msg/s (target ${RATE})`);
    for (const [name, f] of [["API rss", (r: Row) => r.api], ["worker rss", (r: Row) => r.worker], ["redis used_memory", (r: Row) => r.redis]] as const) {
      const growth = (mean(tail, f) - mean(mid, f)) / mean(mid, f);
      console.log(`${name.padEnd(18)} first ${mib(f(first))}  last ${mib(f(last))}  max ${mib(Math.max(...rows.map(f)))}  mean middle third ${mib(mean(mid, f))} -> last third ${mib(mean(tail, f))} (${growth >= 0 ? "+" : ""}${fmt(growth * 100, 1)} %) ${name.startsWith("redis") ? "(grows with data)" : verdict(growth)}`);
    }
    printWarnings(b.warnings);
  } finally {
    if (sampler) clearInterval(sampler);
    await worker.stop();
    await b.app.stop(true).catch(() => undefined);
    await b.close();
  }
}

await main();
process.exit(0);
