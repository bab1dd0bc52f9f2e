import { describe, expect, test } from "bun:test";
import { finalScore, fuse } from "../../src/memory/ranking";
import { collapseKey, metadataTags, queryTokens, termFrequencies, termOf, tokenize } from "../../src/store/text";

const hits = (...ids: string[]) => ids.map((messageId, i) => ({ messageId, score: 10 - i }));
const weights = { k: 60, semantic: 1, keyword: 1 };

describe("reciprocal rank fusion", () => {
  test("orders by the weighted sum of 1 / (k + rank), normalised so first in both lists is 1", () => {
    const fused = fuse("hybrid", { semantic: hits("a", "b", "c"), keyword: hits("c", "a", "d") }, weights);
    const rrf = (...ranks: number[]) => ranks.reduce((s, r) => s + 1 / (60 + r), 0) / (2 / 61);
    expect(fused.map((c) => c.messageId)).toEqual(["a", "c", "b", "d"]);
    for (const [i, expected] of [rrf(1, 2), rrf(3, 1), rrf(2), rrf(3)].entries()) expect(fused[i].relevance).toBeCloseTo(expected, 12);
    const both = fuse("hybrid", { semantic: hits("x"), keyword: hits("x") }, weights);
    expect(both[0].relevance).toBe(1);
  });

  test("weights and k change the order as the formula says", () => {
    const lists = { semantic: hits("a", "b"), keyword: hits("b", "a") };
    // equal weights: a tie, broken by the semantic rank
    expect(fuse("hybrid", lists, weights).map((c) => c.messageId)).toEqual(["a", "b"]);
    expect(fuse("hybrid", lists, { ...weights, keyword: 2 }).map((c) => c.messageId)).toEqual(["b", "a"]);
    // x is 4th in both lists, a is 1st in one: a small k rewards the top of a list (a wins), k = 60 agreement (x wins)
    const deep = { semantic: hits("a", "b", "c", "x"), keyword: hits("p", "q", "r", "x") };
    expect(fuse("hybrid", deep, { ...weights, k: 1 })[0].messageId).toBe("a");
    expect(fuse("hybrid", deep, { ...weights, k: 60 })[0].messageId).toBe("x");
  });

  test("a keyword hit counts by its coverage squared", () => {
    const fused = fuse("hybrid", { semantic: hits("a", "b"), keyword: [{ messageId: "b", score: 5, coverage: 0.5 }] }, { k: 60, semantic: 1, keyword: 4 });
    const norm = 5 / 61;
    expect(fused.find((c) => c.messageId === "b")?.relevance).toBeCloseTo((1 / 62 + (4 * 0.25) / 61) / norm, 12);
    expect(fused.map((c) => c.messageId)).toEqual(["b", "a"]);
    const weak = fuse("hybrid", { semantic: hits("a", "b"), keyword: [{ messageId: "b", score: 5, coverage: 0.05 }] }, { k: 60, semantic: 1, keyword: 4 });
    expect(weak.map((c) => c.messageId)).toEqual(["a", "b"]);
  });

  test("a missing keyword list (a query of stopwords) leaves the semantic order, top scoring 1", () => {
    const fused = fuse("hybrid", { semantic: hits("a", "b"), keyword: [] }, weights);
    expect(fused.map((c) => c.messageId)).toEqual(["a", "b"]);
    expect(fused[0].relevance).toBe(1);
    expect(fused[1].relevance).toBeCloseTo(61 / 62, 12);
  });

  test("semantic mode scores cosine, keyword mode BM25 over the best", () => {
    expect(fuse("semantic", { semantic: [{ messageId: "a", score: 0.8 }], keyword: [] }, weights)[0].relevance).toBe(0.8);
    const kw = fuse("keyword", { semantic: [], keyword: [{ messageId: "a", score: 8 }, { messageId: "b", score: 2 }] }, weights);
    expect(kw.map((c) => c.relevance)).toEqual([1, 0.25]);
  });

  test("signals: score = (1 - wr - wi) relevance + wr 0.5^(age / half-life) + wi importance", () => {
    const now = Date.UTC(2026, 0, 31);
    const tenDaysAgo = now - 10 * 86_400_000;
    expect(finalScore(0.7, tenDaysAgo, 0.9, { recencyWeight: 0, importanceWeight: 0, recencyHalfLifeDays: 10 }, now).score).toBe(0.7);
    const s = finalScore(0.7, tenDaysAgo, 0.9, { recencyWeight: 0.2, importanceWeight: 0.3, recencyHalfLifeDays: 10 }, now);
    expect(s.recency).toBe(0.5);
    expect(s.score).toBeCloseTo(0.5 * 0.7 + 0.2 * 0.5 + 0.3 * 0.9, 12);
  });
});

describe("tokenizer", () => {
  test("query syntax characters separate words; stopwords go; words are lower-cased", () => {
    expect(tokenize('@tenant:{x} | "Dog"* -cat (~fish) %bird% {A} the OF')).toEqual(["tenant", "x", "dog", "cat", "fish", "bird"]);
    expect(queryTokens("dog Dog DOG cat")).toEqual(["dog", "cat"]);
    // queries also lose question words, auxiliaries and pronouns; messages keep them
    expect(queryTokens("When did you go to the support group, and what did she say?")).toEqual(["go", "support", "group", "say"]);
    expect(tokenize("what did she say")).toEqual(["what", "did", "she", "say"]);
    expect(tokenize("日本語 テキスト, Ελληνικά! naïve café")).toEqual(["日本語", "テキスト", "ελληνικά", "naïve", "café"]);
  });

  test("Porter2 stems ASCII words; term frequencies count stems", () => {
    expect(termOf("running")).toBe("run");
    expect(termOf("generously")).toBe("generous");
    expect(termOf("日本語")).toBe("日本語");
    expect(termFrequencies("Dogs chase the dog; a dog runs")).toEqual({ terms: { dog: 3, chase: 1, run: 1 }, length: 5 });
  });

  test("metadata tags: top-level scalars only; collapse key folds case and whitespace", () => {
    expect(metadataTags({ a: "x", n: 3, b: true, o: { x: 1 }, l: [1], z: null, bad: "x\u001fy" })).toEqual(["a=x", "n=3", "b=true"]);
    expect(collapseKey("  Hello\n  WORLD ")).toBe(collapseKey("hello world"));
  });
});
