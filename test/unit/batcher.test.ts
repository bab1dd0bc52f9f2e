import { describe, expect, test } from "bun:test";
import { createEmbedBatcher } from "../../src/memory/batcher";
import { createQueryCache } from "../../src/memory/search";
import type { Embedder } from "../../src/store/embeddings";

function countingEmbedder(delayMs = 0) {
  const calls: string[][] = [];
  const embedder: Embedder = {
    modelKey: "test-3",
    dimensions: 3,
    async embed(texts) {
      calls.push(texts);
      await Bun.sleep(delayMs);
      return texts.map((t) => Float32Array.from([t.length, 1, 0]));
    },
  };
  return { embedder, calls };
}

describe("embedding batcher", () => {
  test("texts from concurrent callers share one embedder call, up to the batch size", async () => {
    const { embedder, calls } = countingEmbedder(20);
    const batcher = createEmbedBatcher(embedder, 4, 100);
    const results = await Promise.all([batcher.embed(["a", "bb"]), batcher.embed(["ccc"]), batcher.embed(["dddd", "e", "ff"])]);
    expect(calls).toEqual([["a", "bb", "ccc", "dddd"], ["e", "ff"]]);
    expect(results.map((r) => r.map((v) => v[0]))).toEqual([[1, 2], [3], [4, 1, 2]]);
  });

  test("a partial batch is held for EMBED_BATCH_WAIT_MS, then sent without filling up", async () => {
    const { embedder, calls } = countingEmbedder();
    const batcher = createEmbedBatcher(embedder, 64, 30);
    const t0 = performance.now();
    await batcher.embed(["lonely"]);
    const waited = performance.now() - t0;
    expect(calls).toEqual([["lonely"]]);
    expect(waited).toBeGreaterThanOrEqual(25);
  });

  test("an embedder failure rejects every caller of that batch, and the next batch still runs", async () => {
    let fail = true;
    const embedder: Embedder = {
      modelKey: "x",
      dimensions: 1,
      embed: async (texts) => {
        if (fail) throw new Error("model down");
        return texts.map(() => Float32Array.from([1]));
      },
    };
    const batcher = createEmbedBatcher(embedder, 8, 5);
    const [a, b] = await Promise.allSettled([batcher.embed(["1"]), batcher.embed(["2"])]);
    expect([a.status, b.status]).toEqual(["rejected", "rejected"]);
    expect(String((a as PromiseRejectedResult).reason)).toContain("model down");
    fail = false;
    expect(await batcher.embed(["3"])).toHaveLength(1);
  });
});

describe("query cache", () => {
  test("a repeated query costs no embedder call; the least recently used entry is evicted", async () => {
    const { embedder, calls } = countingEmbedder();
    const embedQuery = createQueryCache(embedder, 2);
    await embedQuery("acct", "a");
    await embedQuery("acct", "b");
    await embedQuery("acct", "a");
    expect(calls).toHaveLength(2);
    await embedQuery("acct", "c"); // evicts b
    await embedQuery("acct", "a");
    expect(calls).toHaveLength(3);
    await embedQuery("acct", "b");
    expect(calls).toHaveLength(4);
  });

  test("entries are per account: another account's identical query is embedded again (no timing signal)", async () => {
    const { embedder, calls } = countingEmbedder();
    const embedQuery = createQueryCache(embedder, 10);
    await embedQuery("alice", "my secret project");
    await embedQuery("alice", "my secret project");
    expect(calls).toHaveLength(1);
    await embedQuery("bob", "my secret project");
    expect(calls).toHaveLength(2);
  });
});
