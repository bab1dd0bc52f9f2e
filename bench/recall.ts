/**
 * recall@10 of the Query Engine's HNSW index against the exact engine on the same data
 * (clustered 512-d unit vectors), for several EF_RUNTIME values, with p50 latency of each.
 * Needs a Redis with vector search; otherwise it says so and exits:
 *
 *   TEST_REDIS_ARGS="--loadmodule /opt/redisearch-build/redisearch.so" bun run bench/recall.ts
 */
import { Redis } from "ioredis";
import { normalize, toBlob } from "../src/store/embeddings";
import { createVectorIndex } from "../src/store/vector-index";
import { detectVectorSupport } from "../src/store/vector-support";
import { startTestRedis } from "../test/helpers/redis";
import { benchConfig, fmt, percentile, rng } from "./lib";

const DOCS = Math.min(100_000, Number(process.env.BENCH_DOCS ?? 20_000));
const QUERIES = Math.min(1000, Number(process.env.BENCH_QUERIES ?? 200));
const CLUSTERS = 100;
const DIM = 512;
const K = 10;
const EF_VALUES = [10, 50, 100, 200];
const NOISE = Number(process.env.BENCH_NOISE ?? 1.0); // per-vector spread around the cluster centre, relative to the centre's length
const DEADLINE_MS = 300_000;

function gaussian(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

async function main() {
  const server = await startTestRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  try {
    if (!(await detectVectorSupport(redis))) {
      console.log("recall benchmark SKIPPED: this Redis has no vector search (no search module loaded).");
      console.log('Run it with TEST_REDIS_ARGS="--loadmodule /opt/redisearch-build/redisearch.so" (or a Redis Stack / Redis 8 redis-server via REDIS_SERVER_BIN).');
      return;
    }
    const config = benchConfig(server.url);
    const embedder = {
      modelKey: "bench-synthetic-512",
      dimensions: DIM,
      embed: async (): Promise<Float32Array[]> => {
        throw new Error("synthetic vectors only");
      },
    };
    const hnsw = createVectorIndex(redis, "query-engine", embedder, config);
    const exact = createVectorIndex(redis, "exact", embedder, config);
    await hnsw.ensure();

    const g = gaussian(rng(5));
    const centres = Array.from({ length: CLUSTERS }, () => normalize(Array.from({ length: DIM }, g)));
    const sample = () => {
      const c = centres[Math.floor(Math.random() * CLUSTERS)];
      return normalize(Array.from(c, (x) => x + (g() * NOISE) / Math.sqrt(DIM)));
    };
    console.log(`recall benchmark: ${DOCS} docs, ${CLUSTERS} clusters, ${DIM}-d, ${QUERIES} queries, k=${K}, HNSW M=${config.HNSW_M} EF_CONSTRUCTION=${config.HNSW_EF_CONSTRUCTION}`);

    const t0 = performance.now();
    for (let from = 0; from < DOCS; from += 500) {
      const pipe = redis.pipeline();
      for (let i = from; i < Math.min(DOCS, from + 500); i++) {
        const doc = { account: "acc", tenant: "t", conversation: `c${i % 20}`, role: "user", importance: 0.5, createdAt: i, content: `doc ${i}`, messageId: `m${i}` };
        const v = sample();
        for (const w of [hnsw.writeFor(doc, v), exact.writeFor(doc, v)]) pipe.hset(w.key, ...(w.fields as [string, Buffer]));
      }
      await pipe.exec();
    }
    const written = performance.now();
    for (;;) {
      const info = (await redis.call("FT.INFO", hnsw.name)) as unknown[];
      const at = (f: string) => String(info[info.indexOf(f) + 1]);
      if ((Number(at("num_docs")) >= DOCS && at("indexing") === "0") || performance.now() - t0 > DEADLINE_MS) break;
      await Bun.sleep(200);
    }
    console.log(`written in ${fmt((written - t0) / 1000, 1)} s, HNSW built after ${fmt((performance.now() - t0) / 1000, 1)} s`);

    const queries = Array.from({ length: QUERIES }, sample);
    const filter = { account: "acc", tenant: "t" };
    const truth: Set<string>[] = [];
    const exactMs: number[] = [];
    for (const q of queries) {
      const s = performance.now();
      truth.push(new Set((await exact.search(filter, q, K)).map((h) => h.messageId)));
      exactMs.push(performance.now() - s);
    }
    console.log(`exact engine: p50 ${fmt(percentile(exactMs, 50), 2)} ms per query (ground truth)`);
    console.log("");
    // The app's query always pre-filters on account + tenant (a hybrid query, which RediSearch may
    // answer by brute force over the filter's matches); the bare KNN row shows the HNSW graph alone.
    const bare = async (q: Float32Array, ef: number): Promise<string[]> => {
      const reply = (await redis.call(
        "FT.SEARCH", hnsw.name, "*=>[KNN $k @vec $blob EF_RUNTIME $ef AS dist]", "PARAMS", "6", "k", String(K),
        "blob", toBlob(q), "ef", String(ef), "SORTBY", "dist", "ASC", "RETURN", "1", "mid", "LIMIT", "0", String(K), "DIALECT", "2",
      )) as unknown[];
      return reply.filter((_, i) => i > 0 && i % 2 === 0).map((f) => String((f as unknown[])[1]));
    };
    const app = async (q: Float32Array) => (await hnsw.search(filter, q, K)).map((h) => h.messageId);
    console.log("query                      EF_RUNTIME  recall@10  p50 ms  p95 ms");
    for (const [label, run] of [["app (tenant pre-filter)", app], ["bare KNN (no filter)", bare]] as const) {
      for (const ef of EF_VALUES) {
        config.HNSW_EF_RUNTIME = ef; // read by search() on every call
        for (const q of queries.slice(0, 20)) await run(q, ef); // warm-up
        let found = 0;
        const ms: number[] = [];
        for (const [i, q] of queries.entries()) {
          const s = performance.now();
          const ids = await run(q, ef);
          ms.push(performance.now() - s);
          found += ids.filter((id) => truth[i].has(id)).length;
        }
        const recall = found / (QUERIES * K);
        console.log(`${label.padEnd(25)}  ${String(ef).padStart(10)}  ${fmt(recall, 3).padStart(9)}  ${fmt(percentile(ms, 50), 2).padStart(6)}  ${fmt(percentile(ms, 95), 2).padStart(6)}`);
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

await main();
process.exit(0);
