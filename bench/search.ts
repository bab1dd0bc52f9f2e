/**
 * Search latency through the API (GET /v1/memory/search, in process via app.handle, the same
 * query repeated so its embedding is cached) in each mode (semantic, keyword, hybrid) next to the
 * raw engine query (deps.vectors.search with the same vector and k). Vectors are seeded directly, the way src/memory/indexing.ts writes
 * them. Engine: exact, or the Query Engine when TEST_REDIS_ARGS loads a search module:
 *
 *   bun run bench/search.ts
 *   TEST_REDIS_ARGS="--loadmodule /opt/redisearch-build/redisearch.so" bun run bench/search.ts
 */
import { keys } from "../src/store/keys";
import { normalize } from "../src/store/embeddings";
import { fmt, percentile, rng, sentences, startBench } from "./lib";

const VECTORS = Math.min(50_000, Number(process.env.BENCH_VECTORS ?? 10_000));
const DISTINCT = 320;
const ITERATIONS = Math.min(5000, Number(process.env.BENCH_ITERATIONS ?? 1000));
const WARMUP = 100;
const K = 10;
const DEADLINE_MS = 90_000;
const QUERY = "which programming language is someone learning";
const TENANT = "bench";

function stats(name: string, xs: number[]): string {
  return `${name.padEnd(34)} p50 ${fmt(percentile(xs, 50), 3)} ms  p95 ${fmt(percentile(xs, 95), 3)} ms  p99 ${fmt(percentile(xs, 99), 3)} ms  (n=${xs.length})`;
}

async function main() {
  const b = await startBench();
  try {
    const { deps } = b;
    const token = await b.account();
    const account = (await b.json<{ id: string }>("GET", "/v1/auth/me", { token })).body.id;
    console.log(`search benchmark: ${VECTORS} vectors in one tenant, engine=${deps.vectors.engine}, k=${K}, EF_RUNTIME=${b.config.HNSW_EF_RUNTIME}`);

    // seed: DISTINCT real embeddings, each repeated with small noise (clustered, like real chat)
    const texts = sentences(DISTINCT, 11);
    const base: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 64) base.push(...(await deps.embedder.embed(texts.slice(i, i + 64))));
    const r = rng(3);
    const t0 = performance.now();
    for (let from = 0; from < VECTORS; from += 500) {
      const pipe = deps.redis.pipeline();
      for (let i = from; i < Math.min(VECTORS, from + 500); i++) {
        const src = base[i % DISTINCT];
        const vector = normalize(Array.from(src, (x) => x + (r() - 0.5) * 0.02));
        const id = `seed-${i}`;
        const createdAt = new Date(Date.UTC(2026, 0, 1) + i * 1000);
        const content = `${texts[i % DISTINCT]} [${i}]`;
        const doc = { account, tenant: TENANT, conversation: `conv-${i % 50}`, role: "user", importance: 0.5, createdAt: createdAt.getTime(), content, messageId: id };
        pipe.hset(keys.message(account, id), {
          id, tenant_id: TENANT, conversation_id: doc.conversation, role: "user", content, importance: "0.5", metadata: "null",
          status: "indexed", created_at: createdAt.toISOString(), created_ms: String(createdAt.getTime()), indexed_at: createdAt.toISOString(),
        });
        const write = deps.vectors.writeFor(doc, vector);
        pipe.hset(write.key, ...(write.fields as [string, Buffer]));
      }
      await pipe.exec();
    }
    if (deps.vectors.engine === "query-engine") {
      for (;;) {
        const info = (await deps.redis.call("FT.INFO", deps.vectors.name)) as unknown[];
        const at = (f: string) => String(info[info.indexOf(f) + 1]);
        if (Number(at("num_docs")) >= VECTORS && at("indexing") === "0") break;
        await Bun.sleep(100);
      }
    }
    console.log(`seeded in ${fmt((performance.now() - t0) / 1000, 1)} s`);

    const [vector] = await deps.embedder.embed([QUERY]);
    const filter = { account, tenant: TENANT };
    const api = (mode: string) => async () => {
      const path = `/v1/memory/search?tenant_id=${TENANT}&top_k=${K}&mode=${mode}&query=${encodeURIComponent(QUERY)}`;
      const res = await b.json<{ results: { id: string }[] }>("GET", path, { token });
      if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.results.map((x) => x.id);
    };
    const runs: [string, () => Promise<unknown>][] = [
      ["raw engine (deps.vectors.search)", () => deps.vectors.search(filter, vector, K)],
      ["API mode=semantic", api("semantic")],
      ["API mode=keyword", api("keyword")],
      ["API mode=hybrid", api("hybrid")],
    ];
    for (let i = 0; i < WARMUP; i++) for (const [, f] of runs) await f();
    const same = JSON.stringify(await api("semantic")()) === JSON.stringify((await deps.vectors.search(filter, vector, K)).map((h) => h.messageId));

    const times = runs.map(() => [] as number[]);
    const end = performance.now() + DEADLINE_MS;
    for (let i = 0; i < ITERATIONS && performance.now() < end; i++) {
      // rotate which goes first, so none always runs on a warmer cache
      for (let j = 0; j < runs.length; j++) {
        const at = (i + j) % runs.length;
        const s = performance.now();
        await runs[at][1]();
        times[at].push(performance.now() - s);
      }
    }

    console.log(`API (semantic) and raw engine return the same ids: ${same}`);
    for (const [i, [name]] of runs.entries()) console.log(stats(name, times[i]));
    const p50 = (i: number) => percentile(times[i], 50);
    console.log(`API overhead at p50 (semantic vs raw): ${fmt(p50(1) - p50(0), 3)} ms (goal < 2 ms)`);
    console.log(`hybrid vs semantic at p50: ${fmt(p50(3) - p50(1), 3)} ms (goal on the Query Engine: within 2 ms)`);
  } finally {
    await b.close();
  }
}

await main();
process.exit(0);
