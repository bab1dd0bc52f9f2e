/**
 * Redis memory per message and per vector, measured with INFO memory used_memory: before and
 * after storing N chat messages (100-300 chars) through the API with no worker (pending), then
 * after an in-process worker indexed them all, and again after BullMQ's retained completed jobs
 * are removed. Engine: exact, or the Query Engine (HNSW) when TEST_REDIS_ARGS loads a search module:
 *
 *   bun run bench/memory.ts                (BENCH_MESSAGES=5000)
 *   TEST_REDIS_ARGS="--loadmodule /opt/redisearch-build/redisearch.so" bun run bench/memory.ts
 */
import { startIndexingWorker } from "../src/memory/worker";
import { globEscape, keys } from "../src/store/keys";
import { chatTexts, fmt, mib, printWarnings, startBench, usedMemory, sumShards } from "./lib";

const N = Math.max(100, Math.min(50_000, Number(process.env.BENCH_MESSAGES ?? 5000)));
const BATCH = 100;
const TENANT = "mem";
const DEADLINE_MS = 300_000;

async function main() {
  const b = await startBench();
  const { redis } = b.deps;
  try {
    const token = await b.account();
    const account = (await b.json<{ id: string }>("GET", "/v1/auth/me", { token })).body.id;
    const texts = chatTexts(N, 21);
    const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
    console.log(`memory benchmark: ${N} messages, content mean ${fmt(bytes / N, 0)} bytes (min ${Math.min(...texts.map((t) => t.length))}, max ${Math.max(...texts.map((t) => t.length))} chars), engine=${b.deps.vectors.engine}`);
    const msg = (i: number) => ({ tenant_id: TENANT, conversation_id: `conv-${i % 50}`, role: i % 2 ? "assistant" : "user", content: texts[i] });

    // warm-up outside the measurement: Lua scripts loaded, the tenant and conversations exist
    const warm = await b.json("POST", "/v1/messages/batch", { token, body: { messages: Array.from({ length: 50 }, (_, i) => ({ ...msg(i), tenant_id: "warm" })) } });
    if (warm.status !== 202) throw new Error(`warm-up answered ${warm.status}`);
    await redis.call("MEMORY", "PURGE").catch(() => undefined);
    const before = await usedMemory(redis);

    for (let from = 0; from < N; from += BATCH) {
      const messages = Array.from({ length: Math.min(BATCH, N - from) }, (_, k) => msg(from + k));
      const r = await b.json("POST", "/v1/messages/batch", { token, body: { messages } });
      if (r.status !== 202) throw new Error(`batch answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    const stored = await usedMemory(redis);
    const outbox = await sumShards((k) => redis.zcard(keys.outbox(k)));
    const dispatch = await sumShards((k) => redis.llen(keys.dispatch(k)));

    let indexed = 0;
    const t0 = performance.now();
    const worker = startIndexingWorker(b.deps, {
      onIndexed: (n) => {
        indexed += n;
      },
    });
    const total = N + 50;
    while (indexed < total && performance.now() - t0 < DEADLINE_MS) await Bun.sleep(100);
    const indexMs = performance.now() - t0;
    await worker.close();
    if (b.deps.vectors.engine === "query-engine") {
      for (let i = 0; i < 100; i++) {
        const info = (await redis.call("FT.INFO", b.deps.vectors.name)) as unknown[];
        if (String(info[info.indexOf("indexing") + 1]) === "0") break;
        await Bun.sleep(100);
      }
    }
    const afterIndex = await usedMemory(redis);
    const bullKeys = await sumShards(async (k) => (await redis.keys(`${globEscape(keys.bullPrefix(k))}:*`)).length);
    await Promise.all(b.deps.queues.map((q) => q.obliterate({ force: true })));
    const afterClean = await usedMemory(redis);

    // per-key view of the same data (MEMORY USAGE, exact for small keys)
    const ids = (await redis.zrange(keys.conversationMessages(account, TENANT, "conv-7"), "0", "-1")).slice(0, 50);
    const usage = async (key: string) => Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
    let msgHash = 0;
    let vecDoc = 0;
    for (const id of ids) {
      msgHash += await usage(keys.message(account, id));
      if (b.deps.vectors.engine === "query-engine") vecDoc += await usage(keys.vectorDoc(b.deps.embedder.modelKey, account, TENANT, id));
    }
    if (b.deps.vectors.engine === "exact") vecDoc = ((await usage(keys.exactVectors(b.deps.embedder.modelKey, account, TENANT))) / N) * ids.length;
    let ftIndexMb = "";
    if (b.deps.vectors.engine === "query-engine") {
      const info = (await redis.call("FT.INFO", b.deps.vectors.name)) as unknown[];
      const at = (f: string) => String(info[info.indexOf(f) + 1]);
      ftIndexMb = `FT.INFO: num_docs ${at("num_docs")}, vector_index_sz_mb ${at("vector_index_sz_mb")}, inverted_sz_mb ${at("inverted_sz_mb")}, doc_table_size_mb ${at("doc_table_size_mb")}`;
    }

    console.log(`indexed ${indexed}/${total} in ${fmt(indexMs / 1000, 1)} s (in-process worker)`);
    console.log("");
    console.log(`used_memory before ${mib(before)}, after storing ${mib(stored)} (outbox ${outbox}, dispatch list ${dispatch}), after indexing ${mib(afterIndex)} (${bullKeys} BullMQ keys), after removing BullMQ jobs ${mib(afterClean)}`);
    console.log(`stored, unindexed: ${fmt((stored - before) / N, 0)} bytes/message (message hash, conversation index, outbox + dispatch entries)`);
    console.log(`indexing delta:    ${fmt((afterIndex - stored) / N, 0)} bytes/vector incl. BullMQ's retained completed jobs`);
    console.log(`indexing delta:    ${fmt((afterClean - stored) / N, 0)} bytes/vector without them (vector + index + status fields, minus the outbox/dispatch entries)`);
    console.log(`indexed total:     ${fmt((afterClean - before) / N, 0)} bytes/message (stored + vector), engine=${b.deps.vectors.engine}`);
    console.log(`MEMORY USAGE sample (${ids.length} messages): message hash ${fmt(msgHash / ids.length, 0)} bytes, vector ${fmt(vecDoc / ids.length, 0)} bytes (raw FLOAT32 512-d = 2048 bytes)`);
    if (ftIndexMb) console.log(ftIndexMb);
    printWarnings(b.warnings);
  } finally {
    await b.close();
  }
}

await main();
process.exit(0);
