/**
 * End-to-end indexing throughput: messages accepted through the API (batch + single POSTs, in
 * process via app.handle) until every one is `indexed` by an in-process worker (startIndexingWorker:
 * its dispatcher turns accepted messages into jobs; the model runs in a worker thread), next to
 * the raw embedder on batches of EMBED_BATCH_SIZE texts in the same run. BENCH_CLUSTER=1 runs it
 * on a 3-master Redis Cluster (REDIS_CLUSTER=true). One account, so one shard: its messages live on
 * one master, while the worker's dispatchers and queues cover every shard as in production.
 *
 *   bun run bench/indexing.ts            (BENCH_MESSAGES=1500, BENCH_SINGLES=300, BENCH_CLUSTER=1)
 */
import { startIndexingWorker } from "../src/memory/worker";
import { createLocalEmbedder } from "../src/store/embeddings";
import { keys } from "../src/store/keys";
import { type Bench, fmt, printWarnings, sentences, startBench } from "./lib";

const TOTAL = Math.min(5000, Number(process.env.BENCH_MESSAGES ?? 1500));
const SINGLES = Math.min(TOTAL, Number(process.env.BENCH_SINGLES ?? 300));
const BATCH_REQUEST_SIZE = 100;
const IN_FLIGHT = 8;
const DEADLINE_MS = 240_000;

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }),
  );
  return out;
}

/** A client that honours 503 ("retry shortly") with the same Idempotency-Key, at most 40 times. */
let retries = 0;
async function send<T>(b: Bench, path: string, token: string, body: unknown, key: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const r = await b.json<T>("POST", path, { token, body, headers: { "idempotency-key": key } });
    if (r.status === 202) return r.body;
    if (r.status !== 503 || attempt >= 40) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    retries++;
    await Bun.sleep(250);
  }
}

async function rawEmbedder(embed: (t: string[]) => Promise<Float32Array[]>, texts: string[], batch: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += batch) await embed(texts.slice(i, i + batch));
  return texts.length / ((performance.now() - t0) / 1000);
}

async function main() {
  const embedder = createLocalEmbedder();
  const b = await startBench({}, embedder);
  const batchSize = b.config.EMBED_BATCH_SIZE;
  const worker = { indexed: 0, failed: 0, batches: [] as number[] };
  let stalled = 0;
  const indexing = startIndexingWorker(b.deps, {
    onIndexed: (n) => {
      worker.indexed += n;
    },
    onFailed: (n) => {
      worker.failed += n;
    },
    onBatch: (s) => {
      worker.batches.push(s.size);
    },
  });
  for (const w of indexing.workers) w.on("stalled", () => {
    stalled++;
  });
  try {
    const texts = sentences(TOTAL, 7);
    console.log(`indexing benchmark: ${TOTAL} messages (${TOTAL - SINGLES} in batch requests of ${BATCH_REQUEST_SIZE}, ${SINGLES} single), engine=${b.deps.vectors.engine}, ${b.cluster ? `Redis Cluster of ${b.redisPids.length} masters` : "one redis-server"}, EMBED_BATCH_SIZE=${batchSize}, EMBED_BATCH_WAIT_MS=${b.config.EMBED_BATCH_WAIT_MS}`);
    const w0 = performance.now();
    await embedder.embed(texts.slice(0, batchSize)); // loads the model
    console.log(`model load + first batch: ${fmt(performance.now() - w0, 0)} ms`);

    const rawBefore = await rawEmbedder((t) => embedder.embed(t), texts, batchSize);
    console.log(`raw embedder (before):  ${fmt(rawBefore, 1)} texts/s`);

    const token = await b.account();
    const me = await b.json<{ id: string }>("GET", "/v1/auth/me", { token });
    const account = me.body.id;
    const conv = (i: number) => `conv-${i % 25}`;
    const msg = (i: number) => ({ tenant_id: "bench", conversation_id: conv(i), role: i % 3 === 0 ? "assistant" : "user", content: texts[i], importance: (i % 10) / 10 });

    const tasks: (() => Promise<string[]>)[] = [];
    const batched = TOTAL - SINGLES;
    for (let i = 0; i < batched; i += BATCH_REQUEST_SIZE) {
      const from = i;
      const to = Math.min(batched, i + BATCH_REQUEST_SIZE);
      tasks.push(async () => {
        const messages = Array.from({ length: to - from }, (_, k) => msg(from + k));
        const r = await send<{ created: { id: string }[] }>(b, "/v1/messages/batch", token, { messages }, `batch-${from}`);
        return r.created.map((m) => m.id);
      });
    }
    for (let i = batched; i < TOTAL; i++) {
      const at = i;
      tasks.push(async () => {
        return [(await send<{ id: string }>(b, "/v1/messages", token, msg(at), `single-${at}`)).id];
      });
    }
    // interleave batches and singles, as real clients would
    const order = tasks.map((task, i) => ({ task, key: (i * 7919) % tasks.length })).sort((x, y) => x.key - y.key).map((x) => x.task);

    let maxStall = 0;
    let tick = performance.now();
    const lag = setInterval(() => {
      const now = performance.now();
      maxStall = Math.max(maxStall, now - tick);
      tick = now;
    }, 20);
    const t0 = performance.now();
    const ids = (await pool(order, IN_FLIGHT)).flat();
    const acceptedMs = performance.now() - t0;
    while (worker.indexed + worker.failed < TOTAL && performance.now() - t0 < DEADLINE_MS) await Bun.sleep(5);
    const e2eMs = performance.now() - t0;
    clearInterval(lag);

    const pipe = b.deps.redis.pipeline();
    for (const id of ids) pipe.hget(keys.message(account, id), "status");
    const statuses = ((await pipe.exec()) ?? []).map(([, v]) => v);
    const indexed = statuses.filter((s) => s === "indexed").length;

    const rawAfter = await rawEmbedder((t) => embedder.embed(t), texts, batchSize);
    console.log(`raw embedder (after):   ${fmt(rawAfter, 1)} texts/s`);
    const raw = (rawBefore + rawAfter) / 2;
    const e2e = indexed / (e2eMs / 1000);
    const sizes = worker.batches;
    const meanBatch = sizes.reduce((a, s) => a + s, 0) / Math.max(1, sizes.length);

    console.log("");
    console.log(`accepted ${ids.length} messages in ${fmt(acceptedMs, 0)} ms (${fmt(ids.length / (acceptedMs / 1000), 0)} msg/s accept rate)`);
    console.log(`indexed ${indexed}/${ids.length} (failed ${worker.failed}) in ${fmt(e2eMs, 0)} ms${indexed < ids.length ? "  <-- NOT ALL INDEXED" : ""}`);
    console.log(`client retries after 503: ${retries}; jobs reported stalled: ${stalled}; longest event-loop stall: ${fmt(maxStall, 0)} ms`);
    printWarnings(b.warnings);
    console.log(`worker embedder calls: ${sizes.length}, mean batch ${fmt(meanBatch, 1)}, full (${batchSize}) ${sizes.filter((s) => s === batchSize).length}`);
    console.log("");
    console.log(`end-to-end indexing:   ${fmt(e2e, 1)} messages/s`);
    console.log(`raw embedder baseline: ${fmt(raw, 1)} texts/s (mean of before/after, batches of ${batchSize})`);
    console.log(`ratio end-to-end / raw: ${fmt(e2e / raw, 3)} (goal >= 0.8)`);
  } finally {
    await indexing.close();
    await b.close();
  }
}

await main();
process.exit(0);
