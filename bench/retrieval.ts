/**
 * Retrieval quality on long multi-session conversations: recall@1/5/10 and nDCG@10 per question
 * kind for the API's `keyword`, `semantic` and `hybrid` modes, beside an independent BM25 baseline
 * computed here in the same run (plain BM25, lower-case alphanumeric words, no stemming, no
 * stopwords: the "thirty lines" a new user would write). Messages go in through the API with their
 * own `created_at`, one tenant per conversation, and are indexed by the real worker and model.
 *
 *   bun run bench/retrieval.ts [eval.json]            exact engine
 *   TEST_REDIS_ARGS="--loadmodule /path/redisearch.so" bun run bench/retrieval.ts   both engines
 *
 * eval.json (default bench/data/eval.json, see bench/data/README.md): { name, conversations:
 * [{ id, turns: [{ id, speaker, text, created_at }] }], questions: [{ id, conversation, question,
 * kind, evidence: [turn ids] }] }. BENCH_VARIANTS=1 adds fusion variants (weights, k, plain RRF)
 * and what stemming and stopwords add to the baseline; BENCH_QUESTIONS caps the questions;
 * BENCH_ENGINES=exact or query-engine runs one; BENCH_EMBED_CACHE=file reuses vectors across runs;
 * BENCH_DUMP=prefix writes both ranked lists of each question (for trying fusion offline);
 * EMBED_CONTEXT_TURNS is passed to the workers.
 */
import { stem } from "porter2";
import type { Principal } from "../src/auth/model";
import type { Deps } from "../src/deps";
import { queryTokens } from "../src/store/text";
import { startIndexingWorker } from "../src/memory/worker";
import { createQueryCache, type QueryEmbedder, type SearchInput, searchMemory } from "../src/memory/search";
import { createLocalEmbedder, type Embedder } from "../src/store/embeddings";
import { keys } from "../src/store/keys";
import { hasVectorSearch } from "../test/helpers/redis";
import { fmt, percentile, startBench, sumShards } from "./lib";

interface Turn {
  id: string;
  speaker: string;
  text: string;
  created_at: string;
}
interface EvalSet {
  name: string;
  source?: string;
  conversations: { id: string; turns: Turn[] }[];
  questions: { id: string; conversation: string; question: string; kind: string; evidence: string[] }[];
}

const K = 10;
const DEADLINE_MS = 900_000;
const path = process.argv[2] ?? new URL("./data/eval.json", import.meta.url).pathname;
const evalSet = (await Bun.file(path).json()) as EvalSet;
const questions = evalSet.questions.slice(0, Number(process.env.BENCH_QUESTIONS ?? Infinity));
const variants = process.env.BENCH_VARIANTS === "1";

/**
 * The model, with vectors remembered by text: the second engine and every variant reuse them.
 * BENCH_EMBED_CACHE=file keeps them across runs (JSON lines of [text, base64 FLOAT32]); it holds
 * the evaluation set's text, so keep it out of the repository.
 */
async function cachingEmbedder(inner: Embedder): Promise<Embedder & { save(): Promise<void> }> {
  const memo = new Map<string, Float32Array>();
  const file = process.env.BENCH_EMBED_CACHE;
  if (file && (await Bun.file(file).exists())) {
    for (const line of (await Bun.file(file).text()).split("\n")) {
      if (!line) continue;
      const [text, b64] = JSON.parse(line) as [string, string];
      const bytes = Buffer.from(b64, "base64");
      memo.set(text, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice());
    }
    console.log(`embedding cache: ${memo.size} vectors from ${file}`);
  }
  const loaded = memo.size;
  return {
    ...inner,
    async embed(texts) {
      const missing = [...new Set(texts.filter((t) => !memo.has(t)))];
      if (missing.length > 0) for (const [i, v] of (await inner.embed(missing)).entries()) memo.set(missing[i], v);
      return texts.map((t) => memo.get(t) as Float32Array);
    },
    async save() {
      if (!file || memo.size === loaded) return;
      const lines = [...memo].map(([text, v]) => JSON.stringify([text, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")]));
      await Bun.write(file, `${lines.join("\n")}\n`);
    },
  };
}

// ---- the independent baseline: plain BM25 over one conversation's turns ----
type Tokenizer = (text: string) => string[];
const plainWords: Tokenizer = (text) => text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
const STOP = new Set("a is the an and are as at be but by for if in into it no not of on or such that their then there these they this to was will with".split(" "));
const stopped: Tokenizer = (text) => plainWords(text).filter((w) => !STOP.has(w));
const stemmed: Tokenizer = (text) => stopped(text).map((w) => stem(w));

function bm25Index(docs: { id: string; text: string }[], tokenize: Tokenizer) {
  const k1 = 1.2;
  const b = 0.75;
  const tfs = docs.map((d) => {
    const tf = new Map<string, number>();
    const words = tokenize(d.text);
    for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1);
    return { id: d.id, tf, length: words.length };
  });
  const avg = tfs.reduce((s, d) => s + d.length, 0) / Math.max(1, tfs.length);
  const df = new Map<string, number>();
  for (const d of tfs) for (const w of d.tf.keys()) df.set(w, (df.get(w) ?? 0) + 1);
  return (query: string, k: number): string[] => {
    const terms = [...new Set(tokenize(query))];
    const scored = tfs.map((d) => {
      let score = 0;
      for (const t of terms) {
        const f = d.tf.get(t) ?? 0;
        if (f === 0) continue;
        const n = df.get(t) ?? 0;
        const idf = Math.log(1 + (tfs.length - n + 0.5) / (n + 0.5));
        score += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.length) / avg));
      }
      return { id: d.id, score };
    });
    return scored.filter((s) => s.score > 0).sort((x, y) => y.score - x.score).slice(0, k).map((s) => s.id);
  };
}

// ---- metrics ----
interface Score {
  r1: number;
  r5: number;
  r10: number;
  ndcg: number;
}
function score(ranked: string[], evidence: string[]): Score {
  const relevant = new Set(evidence);
  const recall = (k: number) => ranked.slice(0, k).filter((id) => relevant.has(id)).length / relevant.size;
  let dcg = 0;
  ranked.slice(0, K).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(K, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return { r1: recall(1), r5: recall(5), r10: recall(K), ndcg: dcg / ideal };
}
const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

/** Per kind and overall means of each system's scores, printed as one table. */
function printTable(title: string, systems: Map<string, Score[]>) {
  const kinds = [...new Set(questions.map((q) => q.kind))].sort();
  console.log(`\n${title}`);
  console.log(`| system | kind | n | recall@1 | recall@5 | recall@10 | nDCG@10 |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const kind of [...kinds, "all"]) {
    for (const [name, scores] of systems) {
      const picked = scores.filter((_, i) => kind === "all" || questions[i].kind === kind);
      const m = (f: keyof Score) => fmt(mean(picked.map((s) => s[f])), 3);
      console.log(`| ${name} | ${kind} | ${picked.length} | ${m("r1")} | ${m("r5")} | ${m("r10")} | ${m("ndcg")} |`);
    }
  }
}

/** Both ranked lists of every question, 100 deep, for trying fusion settings offline. */
async function dumpLists(file: string, deps: Deps, embedQuery: QueryEmbedder, account: string) {
  const rows = [];
  for (const q of questions) {
    const lists = await deps.vectors.rank(
      { account, tenant: `conv-${q.conversation}` },
      { vector: await embedQuery(account, q.question), tokens: queryTokens(q.question), depth: 100 },
    );
    rows.push({ id: q.id, kind: q.kind, evidence: q.evidence, ...lists });
  }
  await Bun.write(file, JSON.stringify(rows));
  console.log(`lists written to ${file}`);
}

async function runEngine(engine: "exact" | "query-engine", embedder: Embedder, baselines: Map<string, Score[]>) {
  const bench = await startBench({ VECTOR_ENGINE: engine, EMBED_BATCH_WAIT_MS: "20", EMBED_CONTEXT_TURNS: process.env.EMBED_CONTEXT_TURNS ?? "0" }, embedder);
  const worker = startIndexingWorker(bench.deps);
  try {
    const token = await bench.account();
    const me = await bench.json("GET", "/v1/auth/me", { token });
    const principal: Principal = { account: me.body.id, kind: "user", scopes: ["read", "write"], tenants: null };
    const t0 = performance.now();
    let total = 0;
    for (const c of evalSet.conversations) {
      for (let from = 0; from < c.turns.length; from += 1000) {
        const messages = c.turns.slice(from, from + 1000).map((t, i) => ({
          id: t.id, tenant_id: `conv-${c.id}`, conversation_id: c.id, role: i % 2 === 0 ? "user" : "assistant",
          content: `${t.speaker}: ${t.text}`, created_at: t.created_at,
        }));
        const res = await bench.json("POST", "/v1/messages/batch", { token, body: { messages } });
        if (res.status !== 202) throw new Error(`ingest failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        total += messages.length;
      }
    }
    for (;;) {
      const indexed = await sumShards(async (k) => Number((await bench.deps.redis.hget(keys.stats(k), "indexed")) ?? 0));
      if (indexed >= total) break;
      if (performance.now() - t0 > DEADLINE_MS) throw new Error(`only ${indexed} of ${total} indexed in time`);
      await Bun.sleep(500);
    }
    console.log(`\n[${engine}] ${total} messages in ${evalSet.conversations.length} conversations indexed in ${fmt((performance.now() - t0) / 1000, 1)} s`);

    const embedQuery = createQueryCache(embedder, 100_000);
    const systems = new Map<string, Score[]>();
    const latency = new Map<string, number[]>();
    const run = async (name: string, extra: Partial<SearchInput>) => {
      const scores: Score[] = [];
      const times: number[] = [];
      for (const q of questions) {
        await embedQuery(principal.account, q.question); // model time is not search time
        const s = performance.now();
        const results = await searchMemory(bench.deps, embedQuery, principal, { tenant: `conv-${q.conversation}`, query: q.question, topK: K, ...extra });
        times.push(performance.now() - s);
        scores.push(score(results.map((r) => r.id), q.evidence));
      }
      systems.set(name, scores);
      latency.set(name, times);
    };
    if (process.env.BENCH_DUMP) await dumpLists(`${process.env.BENCH_DUMP}.${engine}.json`, bench.deps, embedQuery, principal.account);
    await run("keyword", { mode: "keyword" });
    await run("semantic", { mode: "semantic" });
    await run("hybrid", { mode: "hybrid" });
    if (variants) {
      await run("hybrid plain RRF 1:1", { mode: "hybrid", weights: { semantic: 1, keyword: 1, coveragePower: 0 } });
      await run("hybrid plain RRF 1:6", { mode: "hybrid", weights: { semantic: 1, keyword: 6, coveragePower: 0 } });
      for (const kw of [2, 4, 8]) await run(`hybrid 1:${kw} coverage^2`, { mode: "hybrid", weights: { semantic: 1, keyword: kw } });
      for (const k of [20, 100]) await run(`hybrid k=${k}`, { mode: "hybrid", weights: { k } });
    }
    for (const [name, scores] of baselines) systems.set(name, scores);
    printTable(`[${engine}] ${evalSet.name}: ${questions.length} questions`, systems);
    console.log(`\n[${engine}] search latency (cached query embedding), ms`);
    for (const [name, times] of latency) console.log(`  ${name}: p50 ${fmt(percentile(times, 50))} p95 ${fmt(percentile(times, 95))}`);
    const bm25r5 = mean((baselines.get("BM25 baseline") ?? []).map((s) => s.r5));
    const hybridR5 = mean((systems.get("hybrid") ?? []).map((s) => s.r5));
    console.log(`\n[${engine}] hybrid recall@5 / BM25 baseline recall@5 = ${fmt(hybridR5, 3)} / ${fmt(bm25r5, 3)} = ${fmt(hybridR5 / bm25r5, 3)}x (goal >= 1.15)`);
  } finally {
    await worker.close();
    await bench.close();
  }
}

async function main() {
  console.log(`retrieval benchmark: ${evalSet.name} (${path}), ${evalSet.conversations.length} conversations, ${evalSet.conversations.reduce((s, c) => s + c.turns.length, 0)} turns, ${questions.length} questions`);
  const baselines = new Map<string, Score[]>();
  const byConversation = new Map(evalSet.conversations.map((c) => [c.id, c]));
  const tokenizers: [string, Tokenizer][] = variants
    ? [["BM25 baseline", plainWords], ["BM25 + stopwords", stopped], ["BM25 + stopwords + stemming", stemmed]]
    : [["BM25 baseline", plainWords]];
  for (const [name, tokenize] of tokenizers) {
    const indexes = new Map<string, ReturnType<typeof bm25Index>>();
    baselines.set(
      name,
      questions.map((q) => {
        let index = indexes.get(q.conversation);
        if (!index) {
          const c = byConversation.get(q.conversation);
          if (!c) throw new Error(`question ${q.id}: no conversation ${q.conversation}`);
          index = bm25Index(c.turns.map((t) => ({ id: t.id, text: `${t.speaker}: ${t.text}` })), tokenize);
          indexes.set(q.conversation, index);
        }
        return score(index(q.question, K), q.evidence);
      }),
    );
  }
  const embedder = await cachingEmbedder(createLocalEmbedder());
  const only = process.env.BENCH_ENGINES;
  if (!only || only.includes("exact")) await runEngine("exact", embedder, baselines);
  await embedder.save();
  if (!only || only.includes("query-engine")) {
    if (await hasVectorSearch()) await runEngine("query-engine", embedder, baselines);
    else console.log("\n[query-engine] SKIPPED: the bench redis-server has no vector search (set TEST_REDIS_ARGS).");
  }
  await embedder.save();
  await embedder.close?.();
}

await main();
