/**
 * Realtime latency: from the 202 of POST /v1/messages (real HTTP, API listening on a free loopback
 * port with a realtime hub) to `message.indexed` on a WebSocket subscribed to the tenant, at a
 * steady ingest rate in two phases, with the indexing worker as a separate process
 * (`bun workers/indexer.ts`). Next to it: the raw local embedder timed on batches of the sizes the
 * worker used (inferred from equal `indexed_at`), and the goal EMBED_BATCH_WAIT_MS + 2 x one batch.
 *
 *   bun run bench/realtime-latency.ts     (BENCH_RATE1=20 BENCH_SECONDS1=30 BENCH_RATE2=60 BENCH_SECONDS2=20)
 */
import { cpus, loadavg } from "node:os";
import { createApp } from "../src/app";
import { createRealtime } from "../src/realtime/hub";
import type { MessageEvent } from "../src/events/model";
import { createLocalEmbedder } from "../src/store/embeddings";
import { chatTexts, fmt, paced, percentile, printWarnings, spawnWorker, startBench } from "./lib";

const cap = (v: string | undefined, def: number, max: number) => Math.max(1, Math.min(max, Number(v ?? def)));
const PHASES = [
  { rate: cap(process.env.BENCH_RATE1, 20, 200), seconds: cap(process.env.BENCH_SECONDS1, 30, 120) },
  { rate: cap(process.env.BENCH_RATE2, 60, 200), seconds: cap(process.env.BENCH_SECONDS2, 20, 120) },
];
const DRAIN_MS = 60_000;
const TENANT = "rt-bench";

interface Sample {
  phase: number;
  sent: number;
  accepted?: number;
  indexed?: number;
  indexedAt?: string;
}

async function main() {
  const b = await startBench();
  const realtime = await createRealtime(b.deps);
  const app = createApp(b.deps, realtime).listen({ port: 0, hostname: "127.0.0.1" });
  const base = `127.0.0.1:${app.server?.port}`;
  const worker = spawnWorker(b);
  const embedder = createLocalEmbedder();
  let socket: WebSocket | undefined;
  try {
    const token = await b.account();
    const samples = new Map<string, Sample>();
    const early = new Map<string, { at: number; indexedAt: string }>();
    socket = new WebSocket(`ws://${base}/ws/messages/${TENANT}`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
    socket.onmessage = (e) => {
      const at = performance.now();
      const event = JSON.parse(String(e.data)) as MessageEvent;
      if (event.type !== "message.indexed") return;
      const s = samples.get(event.message.id);
      if (s) {
        s.indexed = at;
        s.indexedAt = event.message.indexed_at ?? undefined;
      } else early.set(event.message.id, { at, indexedAt: event.message.indexed_at ?? "" });
    };
    await new Promise<void>((resolve, reject) => {
      if (!socket) return reject(new Error("no socket"));
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("socket failed to open"));
    });

    const texts = chatTexts(PHASES.reduce((a, p) => a + p.rate * p.seconds, 0) + 20, 9);
    let failures = 0;
    const post = async (i: number, phase: number) => {
      const sent = performance.now();
      const res = await fetch(`http://${base}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ tenant_id: TENANT, conversation_id: `c${i % 20}`, role: "user", content: texts[i] }),
      });
      const body = (await res.json()) as { id: string };
      const accepted = performance.now();
      if (res.status !== 202) return void failures++;
      const s: Sample = { phase, sent, accepted };
      const e = early.get(body.id);
      if (e) Object.assign(s, { indexed: e.at, indexedAt: e.indexedAt });
      samples.set(body.id, s);
    };
    const waitIndexed = async (phase: number, ms: number) => {
      const end = performance.now() + ms;
      const open = () => [...samples.values()].filter((s) => s.phase === phase && s.indexed === undefined).length;
      while (open() > 0 && performance.now() < end) await Bun.sleep(50);
    };

    // warm-up: the worker loads its model; wait until 10 messages come back indexed
    const w0 = performance.now();
    await Promise.all(Array.from({ length: 10 }, (_, i) => post(i, -1)));
    await waitIndexed(-1, 60_000);
    console.log(`realtime latency benchmark: worker = separate process, EMBED_BATCH_SIZE=${b.config.EMBED_BATCH_SIZE}, EMBED_BATCH_WAIT_MS=${b.config.EMBED_BATCH_WAIT_MS}`);
    console.log(`load average at start: ${loadavg().map((x) => fmt(x)).join(" ")} (${cpus().length} CPUs)`);
    console.log(`warm-up (worker model load + 10 messages): ${fmt(performance.now() - w0, 0)} ms`);

    let next = 10;
    const pending: Promise<void>[] = [];
    for (const [p, { rate, seconds }] of PHASES.entries()) {
      await paced(rate, seconds, () => {
        pending.push(post(next++, p));
      });
    }
    await Promise.all(pending);
    await waitIndexed(PHASES.length - 1, DRAIN_MS);

    // batch sizes as the worker formed them: messages sharing one indexed_at came out of one embedder call
    const batches = new Map<string, { phase: number; n: number }>();
    for (const s of samples.values()) {
      if (s.phase < 0 || !s.indexedAt) continue;
      const g = batches.get(s.indexedAt) ?? { phase: s.phase, n: 0 };
      g.n++;
      batches.set(s.indexedAt, g);
    }
    const phaseSizes = (p: number) => [...batches.values()].filter((g) => g.phase === p).map((g) => g.n);
    const wanted = PHASES.flatMap((_, p) => [50, 95, 100].map((q) => percentile(phaseSizes(p), q)));
    const sizes = [...new Set([1, ...wanted.filter((n) => n > 0)])].sort((x, y) => x - y);
    const batchMs = new Map<number, number>();
    await embedder.embed(texts.slice(0, 8)); // load the model here too (the worker is idle now)
    for (const n of sizes) {
      const runs: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await embedder.embed(texts.slice(100 + r * 70, 100 + r * 70 + n));
        runs.push(performance.now() - t0);
      }
      batchMs.set(n, percentile(runs, 50));
    }
    console.log(`raw embedder (createLocalEmbedder, median of 5) at the observed batch sizes (1, p50/p95/max of each phase): ${sizes.map((n) => `${n}: ${fmt(batchMs.get(n) ?? 0, 0)} ms`).join(", ")}`);
    console.log("");

    for (const [p, { rate, seconds }] of PHASES.entries()) {
      const xs = [...samples.values()].filter((s) => s.phase === p);
      const lat = xs.filter((s) => s.indexed !== undefined).map((s) => Math.max(0, (s.indexed ?? 0) - (s.accepted ?? 0)));
      const http = xs.map((s) => (s.accepted ?? 0) - s.sent);
      const gs = phaseSizes(p);
      const bp95 = percentile(gs, 95);
      const one = batchMs.get(bp95) ?? Number.NaN;
      const goal = b.config.EMBED_BATCH_WAIT_MS + 2 * one;
      const p95 = percentile(lat, 95);
      console.log(`phase ${p + 1}: ${rate} msg/s for ${seconds} s: ${xs.length} accepted, ${lat.length} indexed events received`);
      console.log(`  POST -> 202:            p50 ${fmt(percentile(http, 50))} ms  p95 ${fmt(percentile(http, 95))} ms  p99 ${fmt(percentile(http, 99))} ms`);
      console.log(`  202 -> message.indexed: p50 ${fmt(percentile(lat, 50), 1)} ms  p95 ${fmt(p95, 1)} ms  p99 ${fmt(percentile(lat, 99), 1)} ms  max ${fmt(Math.max(...lat), 1)} ms`);
      console.log(`  worker batches: ${gs.length}, size p50 ${percentile(gs, 50)} / p95 ${bp95} / max ${Math.max(...gs)}; one batch of ${bp95} = ${fmt(one, 1)} ms`);
      console.log(`  goal EMBED_BATCH_WAIT_MS + 2 x one batch = ${b.config.EMBED_BATCH_WAIT_MS} + 2 x ${fmt(one, 1)} = ${fmt(goal, 1)} ms; p95 ${fmt(p95, 1)} ms -> ${p95 <= goal ? "met" : "MISSED"}`);
    }
    console.log(`non-202 answers: ${failures}`);
    printWarnings(b.warnings);
  } finally {
    socket?.close();
    await embedder.close?.();
    await worker.stop();
    await realtime.close();
    await app.stop(true);
    await b.close();
  }
}

await main();
process.exit(0);
