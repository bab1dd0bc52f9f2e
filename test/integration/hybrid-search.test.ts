import { beforeAll, describe, expect, test } from "bun:test";
import { eventually, type Harness, useHarness } from "../helpers/app";
import { hasVectorSearch } from "../helpers/redis";

/**
 * Hybrid, keyword and semantic search through the API with the real model, on both engines: the
 * exact engine always, the Query Engine when the test redis-server has vector search
 * (TEST_REDIS_ARGS="--loadmodule /path/redisearch.so"); said on stderr when skipped.
 */
const queryEngine = await hasVectorSearch();
if (!queryEngine) process.stderr.write("\n[hybrid-search] Query Engine runs SKIPPED: the test redis-server has no vector search.\n");

const engines: [string, Harness | undefined][] = [
  ["exact", useHarness({ EMBED_BATCH_WAIT_MS: "20", VECTOR_ENGINE: "exact" }, { worker: true })],
  ["query-engine", queryEngine ? useHarness({ EMBED_BATCH_WAIT_MS: "20", VECTOR_ENGINE: "query-engine" }, { worker: true }) : undefined],
];

interface Hit {
  id: string;
  content: string;
  score: number;
  role: string;
  created_at: string;
  explain?: {
    semantic: { rank: number; similarity: number; contribution: number } | null;
    keyword: { rank: number; bm25: number; coverage: number; contribution: number } | null;
    recency: { value: number; contribution: number };
    importance: { value: number; contribution: number };
  };
  context?: { before: { id: string; content: string }[]; after: { id: string; content: string }[] };
}

const CHAT: { role: string; content: string; created_at: string; metadata?: Record<string, unknown>; importance?: number }[] = [
  { role: "user", content: "Hi! I just got back from the LGBTQ support group meeting on Tuesday.", created_at: "2026-05-08T13:56:00Z", metadata: { session: 1, topic: "support" } },
  { role: "assistant", content: "That sounds meaningful. How did it feel to be there?", created_at: "2026-05-08T13:57:00Z", metadata: { session: 1 } },
  { role: "user", content: "It was inspiring. Also, my dog Biscuit chewed my running shoes again.", created_at: "2026-05-08T13:58:00Z", metadata: { session: 1, topic: "pets" } },
  { role: "user", content: "I adopted a golden retriever puppy last spring and she loves the park.", created_at: "2026-06-02T09:00:00Z", metadata: { session: 2, topic: "pets", verified: true } },
  { role: "assistant", content: "Puppies need a lot of exercise; the park is perfect.", created_at: "2026-06-02T09:01:00Z", metadata: { session: 2 } },
  { role: "user", content: "My sister Melanie is painting a sunrise over the lake for her art class.", created_at: "2026-06-02T09:02:00Z", metadata: { session: 2, topic: "family" } },
  { role: "user", content: "Order #4471 of the blue ceramic vase arrived broken.", created_at: "2026-07-15T18:30:00Z", metadata: { session: 3, topic: "shopping" }, importance: 0.9 },
  { role: "assistant", content: "Sorry to hear that! Contact the seller with the order number for a refund.", created_at: "2026-07-15T18:31:00Z", metadata: { session: 3 } },
  { role: "user", content: "I am thinking about a career in counseling for transgender youth.", created_at: "2026-07-15T18:32:00Z", metadata: { session: 3, topic: "career" }, importance: 0.2 },
  { role: "user", content: "i am thinking about   a career in COUNSELING for transgender youth.", created_at: "2026-07-15T18:33:00Z", metadata: { session: 3, topic: "career" } },
];

for (const [engine, h] of engines) {
  describe.skipIf(!h)(`search modes on the ${engine} engine`, () => {
    const harness = h as Harness;
    let token = "";
    let ids: string[] = [];
    const tenant = "chat";

    const search = async (params: Record<string, string | number | boolean>, expectStatus = 200) => {
      const qs = new URLSearchParams(Object.entries({ tenant_id: tenant, top_k: 5, ...params }).map(([k, v]) => [k, String(v)]));
      const { status, body } = await harness.json("GET", `/v1/memory/search?${qs}`, { token });
      if (status !== expectStatus) throw new Error(`search ${qs} -> ${status} ${JSON.stringify(body)}`);
      return body as { results: Hit[] } & { code?: string; details?: { field: string; message: string }[] };
    };
    const idsOf = (r: { results: Hit[] }) => r.results.map((x) => x.id);

    // The chat every test below searches: three sessions, indexed.
    beforeAll(async () => {
      token = (await harness.account()).token;
      const { status, body } = await harness.json("POST", "/v1/messages/batch", {
        token,
        body: { messages: CHAT.map((m) => ({ tenant_id: tenant, conversation_id: "c1", ...m })) },
      });
      expect(status).toBe(202);
      ids = body.created.map((m: { id: string }) => m.id);
      expect(body.created[0].created_at).toBe("2026-05-08T13:56:00.000Z");
      await eventually("all indexed", async () => {
        const states = await Promise.all(ids.map((id) => harness.json("GET", `/v1/messages/${id}`, { token })));
        return states.every((s) => s.body.status === "indexed");
      });
    }, 60_000);

    test("keyword finds exact names and numbers; semantic finds paraphrases; hybrid finds both", async () => {
      expect(idsOf(await search({ query: "Biscuit", mode: "keyword" }))).toEqual([ids[2]]);
      expect(idsOf(await search({ query: "what is order 4471 about", mode: "keyword" }))[0]).toBe(ids[6]);
      // Stemming: "chewing" and "shoe" match "chewed my running shoes".
      expect(idsOf(await search({ query: "chewing shoe", mode: "keyword" }))[0]).toBe(ids[2]);
      // A paraphrase sharing no word with the memory: keyword cannot find it, semantic and hybrid do.
      const paraphrase = "which animal did they get as a pet";
      expect(idsOf(await search({ query: paraphrase, mode: "keyword" }))).not.toContain(ids[3]);
      expect(idsOf(await search({ query: paraphrase, mode: "semantic", top_k: 3 }))).toContain(ids[3]);
      expect(idsOf(await search({ query: paraphrase, top_k: 3 }))).toContain(ids[3]);
      expect(idsOf(await search({ query: "What is the name of the dog?", top_k: 3 }))).toContain(ids[2]);
    });

    test("hybrid is the default and fuses the two lists by reciprocal rank (explain adds up to the score)", async () => {
      const query = "support group meeting";
      const byDefault = await search({ query, explain: true, top_k: 10 });
      const hybrid = await search({ query, mode: "hybrid", explain: true, top_k: 10 });
      const ranking = (r: { results: Hit[] }) => r.results.map((x) => [x.id, x.score, x.explain?.semantic, x.explain?.keyword]);
      expect(ranking(byDefault)).toEqual(ranking(hybrid));
      const expectFused = (results: Hit[]) => {
        const scores = results.map((r) => r.score);
        expect([...scores].sort((a, b) => b - a)).toEqual(scores);
        for (const r of results) {
          const e = r.explain as NonNullable<Hit["explain"]>;
          const semantic = e.semantic ? 1 / (60 + e.semantic.rank) : 0;
          const keyword = e.keyword ? (6 * e.keyword.coverage ** 2) / (60 + e.keyword.rank) : 0;
          expect(semantic + keyword).toBeGreaterThan(0);
          // both lists exist for these queries, so the normaliser is (1 + 6) / 61 (default weights 1 and 6, k = 60)
          expect(r.score).toBeCloseTo((semantic + keyword) / (7 / 61), 9);
          expect(r.score).toBeCloseTo((e.semantic?.contribution ?? 0) + (e.keyword?.contribution ?? 0) + e.recency.contribution + e.importance.contribution, 9);
        }
      };
      expectFused(hybrid.results);
      // First in both lists, matching every query term, scores 1.
      const top = hybrid.results[0];
      expect(top.id).toBe(ids[0]);
      expect(top.explain?.semantic?.rank).toBe(1);
      expect(top.explain?.keyword?.rank).toBe(1);
      expect(top.explain?.keyword?.coverage).toBe(1);
      expect(top.score).toBeCloseTo(1, 9);
      // A keyword hit on part of the query counts by its coverage, the share of the query's IDF it
      // matches: "Biscuit" (in one message) and "park" (in two) split this query, the rarer word taking more.
      const split = await search({ query: "Biscuit park", explain: true, top_k: 10 });
      expectFused(split.results);
      const coverage = (id: string) => split.results.find((r) => r.id === id)?.explain?.keyword?.coverage as number;
      expect(coverage(ids[2]) + coverage(ids[3])).toBeCloseTo(1, 9);
      expect(coverage(ids[4])).toBe(coverage(ids[3]));
      expect(coverage(ids[2])).toBeGreaterThan(coverage(ids[3]));
      // Semantic mode still answers cosine similarity; keyword mode's best hit scores 1.
      const semantic = await search({ query, mode: "semantic", explain: true });
      expect(semantic.results[0].score).toBeCloseTo(semantic.results[0].explain?.semantic?.similarity as number, 9);
      expect(semantic.results[0].explain?.keyword).toBeNull();
      const keyword = await search({ query, mode: "keyword", explain: true });
      expect(keyword.results[0].score).toBe(1);
      expect(keyword.results[0].explain?.semantic).toBeNull();
      expect(keyword.results[0].explain?.keyword?.bm25).toBeGreaterThan(0);
    });

    test("hostile query text is words, never syntax and never a 500", async () => {
      const hostile = [
        '"', "@", "|", "-", "*", "{", "(", "~", "%", "\\", "'", "$blob", "@tenant:{*}", "*=>[KNN 100 @vec $blob]",
        '-(Biscuit) | "dog" ~shoes %chew% {x} @content:(a|b)', "日本語のテキスト", "Ελληνικά κείμενο", "emoji 🐶 dog", "a the of",
      ];
      for (const query of hostile) {
        for (const mode of ["hybrid", "keyword", "semantic"]) {
          const body = await search({ query, mode });
          expect(Array.isArray(body.results)).toBe(true);
        }
      }
      const body = await harness.json("POST", "/v1/memory/search", { token, body: { tenant_id: tenant, query: "*Biscuit* @role:{user}", mode: "keyword" } });
      expect(body.status).toBe(200);
      expect(body.body.results.map((r: Hit) => r.id)).toEqual([ids[2]]);
    });

    test("filters combine: created range, several roles, metadata, min_score", async () => {
      const all = { query: "park puppy dog support group career order", top_k: 20 };
      const between = idsOf(await search({ ...all, created_after: "2026-06-01", created_before: "2026-07-15T18:31:00Z" })).sort();
      expect(between).toEqual([ids[3], ids[4], ids[5], ids[6]].sort());
      const assistants = idsOf(await search({ ...all, role: "assistant" })).sort();
      expect(assistants).toEqual([ids[1], ids[4], ids[7]].sort());
      const both = idsOf(await search({ ...all, role: "assistant,user", created_after: "2026-07-15T18:31:00+00:00" })).sort();
      expect(both).toEqual([ids[7], ids[8]].sort()); // ids[9] is ids[8] collapsed
      const pets = idsOf(await search({ ...all, metadata: JSON.stringify({ topic: "pets" }) })).sort();
      expect(pets).toEqual([ids[2], ids[3]].sort());
      expect(idsOf(await search({ ...all, metadata: JSON.stringify({ topic: "pets", verified: true }) }))).toEqual([ids[3]]);
      expect(idsOf(await search({ ...all, metadata: JSON.stringify({ session: 3, topic: "shopping" }), role: "user" }))).toEqual([ids[6]]);
      // Values compare as text: "3" and 3 are the same filter.
      expect(idsOf(await search({ ...all, metadata: JSON.stringify({ session: "3" }), role: "assistant" }))).toEqual([ids[7]]);
      expect(idsOf(await search({ ...all, metadata: JSON.stringify({ session: 4 }) }))).toEqual([]);
      const post = await harness.json("POST", "/v1/memory/search", {
        token,
        body: { tenant_id: tenant, ...all, role: ["assistant"], metadata: { session: 2 }, mode: "keyword" },
      });
      expect(post.status).toBe(200);
      expect(post.body.results.map((r: Hit) => r.id)).toEqual([ids[4]]);
      const scored = await search({ ...all });
      const cut = scored.results[2].score;
      const above = await search({ ...all, min_score: cut });
      expect(above.results.every((r) => r.score >= cut)).toBe(true);
      expect(above.results.length).toBe(scored.results.filter((r) => r.score >= cut).length);
    });

    test("identical contents (case and whitespace aside) are collapsed to the best one", async () => {
      const body = await search({ query: "career in counseling for transgender youth", top_k: 10 });
      const found = idsOf(body).filter((id) => id === ids[8] || id === ids[9]);
      expect(found).toHaveLength(1);
    });

    test("recency and importance weights re-rank by the documented formula", async () => {
      const query = "order vase painting sunrise park";
      const plain = await search({ query, mode: "keyword", explain: true, top_k: 10 });
      const weighted = await search({ query, mode: "keyword", explain: true, top_k: 10, importance_weight: 0.5, recency_weight: 0.2, recency_half_life_days: 10 });
      const now = Date.now();
      for (const r of weighted.results) {
        const e = r.explain as NonNullable<Hit["explain"]>;
        const base = plain.results.find((p) => p.id === r.id);
        expect(base).toBeDefined();
        const recency = 0.5 ** ((now - Date.parse(r.created_at)) / 86_400_000 / 10);
        expect(e.recency.value).toBeCloseTo(recency, 3);
        const importance = CHAT[ids.indexOf(r.id)].importance ?? 0.5;
        expect(e.importance.value).toBe(importance);
        expect(r.score).toBeCloseTo(0.3 * (base as Hit).score + 0.2 * recency + 0.5 * importance, 3);
      }
      expect(weighted.results[0].id).toBe(ids[6]); // importance 0.9
      const over = await search({ query, recency_weight: 0.6, importance_weight: 0.6 }, 400);
      expect(over.details?.[0].field).toBe("recency_weight");
    });

    test("context brings neighbouring messages in conversation order", async () => {
      const body = await search({ query: "Melanie painting sunrise", top_k: 1, context: 2 });
      expect(body.results[0].id).toBe(ids[5]);
      expect(body.results[0].context?.before.map((m) => m.id)).toEqual([ids[3], ids[4]]);
      expect(body.results[0].context?.after.map((m) => m.id)).toEqual([ids[6], ids[7]]);
      const first = await search({ query: "LGBTQ support group Tuesday", top_k: 1, context: 1 });
      expect(first.results[0].context).toEqual({ before: [], after: [expect.objectContaining({ id: ids[1], content: CHAT[1].content })] });
      expect((await search({ query: "Melanie", top_k: 1 })).results[0].context).toBeUndefined();
    });

    test("GET and POST answer the same; bad parameters are 400s naming the field", async () => {
      const get = await search({ query: "dog shoes", role: "user", context: 1 });
      const post = await harness.json("POST", "/v1/memory/search", { token, body: { tenant_id: tenant, query: "dog shoes", top_k: 5, role: "user", context: 1 } });
      expect(post.body).toEqual(get);
      for (const [params, field] of [
        [{ mode: "fuzzy" }, "mode"],
        [{ query: "  \t " }, "query"],
        [{ limit: 3 }, "limit"],
        [{ tenant: "x" }, "tenant"],
        [{ created_after: "yesterday" }, "created_after"],
        [{ created_before: "2026-02-30" }, "created_before"],
        [{ role: "user,robot" }, "role"],
        [{ metadata: "{not json" }, "metadata"],
        [{ metadata: '{"a":{"b":1}}' }, "metadata.a"],
        [{ min_score: 2 }, "min_score"],
        [{ context: 11 }, "context"],
        [{ recency_weight: -0.1 }, "recency_weight"],
      ] as [Record<string, string | number>, string][]) {
        const body = await search({ query: "dog", ...params }, 400);
        expect(body.details?.map((d) => d.field)).toContain(field);
        if (field === "limit") expect(body.details).toEqual([{ field: "limit", message: "Unknown parameter; use top_k" }]);
      }
    });

    test("another account's messages in the same tenant id are never found", async () => {
      const other = (await harness.account()).token;
      await harness.json("POST", "/v1/messages", { token: other, body: { tenant_id: tenant, conversation_id: "c1", role: "user", content: "Biscuit Biscuit Biscuit" } });
      for (const mode of ["keyword", "hybrid", "semantic"]) {
        const { body } = await harness.json("GET", `/v1/memory/search?tenant_id=${tenant}&query=Biscuit&mode=${mode}&top_k=20`, { token: other });
        expect(body.results.every((r: Hit) => !ids.includes(r.id))).toBe(true);
      }
    });
  });
}

describe("created_at on ingest", () => {
  const harness = engines[0][1] as Harness;

  test("bad values are 400s naming the field; nothing is stored", async () => {
    const { token } = await harness.account();
    const base = { tenant_id: "t", conversation_id: "c", role: "user", content: "hello" };
    const future = new Date(Date.now() + 3_600_000).toISOString();
    for (const value of ["2026-11-01T10:00:00", "next tuesday", "2026-13-01T00:00:00Z", future, "1969-12-31T23:59:59Z", 12345]) {
      const single = await harness.json("POST", "/v1/messages", { token, body: { ...base, created_at: value } });
      expect(single.status).toBe(400);
      expect(single.body.details.map((d: { field: string }) => d.field)).toContain("created_at");
      const batch = await harness.json("POST", "/v1/messages/batch", { token, body: { messages: [base, { ...base, created_at: value }] } });
      expect(batch.status).toBe(400);
      expect(batch.body.details.map((d: { field: string }) => d.field)).toContain("messages.1.created_at");
    }
    const history = await harness.json("GET", "/v1/conversations/c/messages?tenant_id=t", { token });
    expect(history.status).toBe(404); // the conversation was never created
  });

  test("a given created_at is stored, orders the history and is part of an idempotent retry", async () => {
    const { token } = await harness.account();
    const base = { tenant_id: "t", conversation_id: "c", role: "user" };
    const late = await harness.json("POST", "/v1/messages", { token, body: { ...base, content: "second", created_at: "2025-01-02T00:00:00+01:00", id: "m2" } });
    expect(late.status).toBe(202);
    expect(late.body.created_at).toBe("2025-01-01T23:00:00.000Z");
    const early = await harness.json("POST", "/v1/messages", { token, body: { ...base, content: "first", created_at: "2025-01-01T00:00:00Z" } });
    expect(early.body.created_at).toBe("2025-01-01T00:00:00.000Z");
    const now = await harness.json("POST", "/v1/messages", { token, body: { ...base, content: "third" } });
    expect(Math.abs(Date.parse(now.body.created_at) - Date.now())).toBeLessThan(60_000);
    const stored = await harness.json("GET", "/v1/messages/m2", { token });
    expect(stored.body.created_at).toBe("2025-01-01T23:00:00.000Z");
    const history = await harness.json("GET", "/v1/conversations/c/messages?tenant_id=t", { token });
    const list = history.body.messages as { content: string }[];
    expect(list.map((m) => m.content)).toEqual(["first", "second", "third"]);
    const retry = await harness.json("POST", "/v1/messages", { token, body: { ...base, content: "second", created_at: "2025-01-01T23:00:00Z", id: "m2" } });
    expect(retry.status).toBe(202);
    const moved = await harness.json("POST", "/v1/messages", { token, body: { ...base, content: "second", created_at: "2025-01-03T00:00:00Z", id: "m2" } });
    expect(moved.status).toBe(409);
  });
});

describe("OpenAPI", () => {
  const harness = engines[0][1] as Harness;

  test("describes every search parameter with its range and default, for GET and POST", async () => {
    const { body: doc } = await harness.json("GET", "/docs/json");
    const get = doc.paths["/v1/memory/search"].get;
    const params = Object.fromEntries(get.parameters.map((p: { name: string; schema: Record<string, unknown> }) => [p.name, p.schema]));
    for (const name of ["mode", "role", "created_after", "created_before", "metadata", "min_score", "recency_half_life_days", "recency_weight", "importance_weight", "explain", "context"])
      expect(params[name]).toBeDefined();
    expect(JSON.stringify(params.mode)).toContain("hybrid");
    expect(params.mode.default).toBe("hybrid");
    expect(params.context).toMatchObject({ minimum: 0, maximum: 10, default: 0 });
    expect(params.recency_weight).toMatchObject({ minimum: 0, maximum: 1, default: 0 });
    expect(params.recency_half_life_days).toMatchObject({ default: 30 });
    expect(params.min_score).toMatchObject({ minimum: -1, maximum: 1 });
    const post = doc.paths["/v1/memory/search"].post;
    const schema = post.requestBody.content["application/json"].schema;
    const props = schema.properties ?? doc.components?.schemas?.[schema.$ref?.split("/").pop()]?.properties;
    expect(props.context).toMatchObject({ minimum: 0, maximum: 10, default: 0 });
    expect(props.top_k).toMatchObject({ minimum: 0, maximum: 100, default: 5 });
    expect(Object.keys(props)).toEqual(expect.arrayContaining(["metadata", "role", "explain", "importance_weight"]));
  });
});
