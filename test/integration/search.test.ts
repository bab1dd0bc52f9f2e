import { describe, expect, test } from "bun:test";
import { eventually, useHarness } from "../helpers/app";

const h = useHarness({ EMBED_BATCH_WAIT_MS: "20" }, { worker: true });

const MEMORIES = [
  "I adopted a golden retriever puppy last spring",
  "My favourite food is spicy Thai green curry",
  "I work as a nurse in the night shift at the hospital",
  "We are planning a trip to Japan in April to see the cherry blossoms",
  "I am allergic to peanuts and shellfish",
  "My daughter just started learning to play the violin",
  "I drive an old red Volkswagen Beetle",
  "I have been learning Python programming for data analysis",
];
const PARAPHRASES: [string, number][] = [
  ["what pet do they have", 0],
  ["which dish do they like to eat the most", 1],
  ["what is their job", 2],
  ["where are they going on holiday", 3],
  ["what foods must they avoid for medical reasons", 4],
  ["what instrument does their child play", 5],
  ["what car do they own", 6],
  ["which coding language are they studying", 7],
];

async function storeAll(token: string, tenant: string, contents: string[], conversation = "conv-1") {
  const { status, body } = await h.json("POST", "/v1/messages/batch", {
    token,
    body: { messages: contents.map((content) => ({ tenant_id: tenant, conversation_id: conversation, role: "user", content })) },
  });
  expect(status).toBe(202);
  const ids: string[] = body.created.map((m: { id: string }) => m.id);
  await eventually("all indexed", async () => {
    const states = await Promise.all(ids.map((id) => h.json("GET", `/v1/messages/${encodeURIComponent(id)}`, { token })));
    return states.every((s) => s.body.status === "indexed");
  });
  return ids;
}

describe("semantic search", () => {
  test("paraphrased questions find the right memory (local model)", async () => {
    const { token } = await h.account();
    const ids = await storeAll(token, "my-app", MEMORIES);
    let top1 = 0;
    for (const [query, expected] of PARAPHRASES) {
      const { status, body } = await h.json("GET", `/v1/memory/search?tenant_id=my-app&query=${encodeURIComponent(query)}&top_k=3`, { token });
      expect(status).toBe(200);
      expect(body.results.length).toBe(3);
      const found = body.results.map((r: { id: string }) => r.id);
      expect(found).toContain(ids[expected]);
      if (found[0] === ids[expected]) top1++;
      const scores = body.results.map((r: { score: number }) => r.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
    expect(top1).toBeGreaterThanOrEqual(6);
  });

  test("results carry the whole documented shape", async () => {
    const { token } = await h.account();
    const { body: stored } = await h.json("POST", "/v1/messages", {
      token,
      body: { tenant_id: "shape", conversation_id: "c", role: "assistant", content: "The capital of France is Paris", importance: 0.9, metadata: { k: "v" } },
    });
    await eventually("indexed", async () => (await h.json("GET", `/v1/messages/${stored.id}`, { token })).body.status === "indexed");
    const { body } = await h.json("GET", "/v1/memory/search?tenant_id=shape&query=French%20capital%20city", { token });
    expect(body.results).toHaveLength(1);
    const [r] = body.results;
    expect(r).toEqual({
      id: stored.id, content: "The capital of France is Paris", score: r.score, role: "assistant", conversation_id: "c",
      tenant_id: "shape", importance: 0.9, metadata: { k: "v" }, created_at: stored.created_at,
    });
    expect(r.score).toBeGreaterThan(0);
    expect(r.score).toBeLessThanOrEqual(1.0001);
    const semantic = await h.json("GET", "/v1/memory/search?tenant_id=shape&query=French%20capital%20city&mode=semantic", { token });
    expect(semantic.body.results[0].score).toBeGreaterThan(0.3); // cosine similarity
  });

  test("filters: conversation, role, min_importance; ids with odd characters", async () => {
    const { token } = await h.account();
    const tenant = "team-a.b@c:d e";
    const conversationA = "conv:1-x.y@z w";
    const input = [
      { tenant_id: tenant, conversation_id: conversationA, role: "user", content: "I love hiking in the mountains", importance: 0.9 },
      { tenant_id: tenant, conversation_id: conversationA, role: "assistant", content: "Hiking in the mountains sounds lovely", importance: 0.2 },
      { tenant_id: tenant, conversation_id: "other", role: "user", content: "Mountain hiking is my weekend hobby", importance: 0.6 },
      { tenant_id: "team-a", conversation_id: conversationA, role: "user", content: "I love hiking in the mountains too", importance: 1 },
    ];
    const { body } = await h.json("POST", "/v1/messages/batch", { token, body: { messages: input } });
    const ids: string[] = body.created.map((m: { id: string }) => m.id);
    await eventually("indexed", async () => {
      const all = await Promise.all(ids.map((id) => h.json("GET", `/v1/messages/${id}`, { token })));
      return all.every((r) => r.body.status === "indexed");
    });
    const search = async (params: Record<string, string>) => {
      const qs = new URLSearchParams({ tenant_id: tenant, query: "hiking mountains", top_k: "10", ...params });
      const { status, body } = await h.json("GET", `/v1/memory/search?${qs}`, { token });
      expect(status).toBe(200);
      return body.results.map((r: { id: string }) => r.id).sort();
    };
    expect(await search({})).toEqual([ids[0], ids[1], ids[2]].sort());
    expect(await search({ conversation_id: conversationA })).toEqual([ids[0], ids[1]].sort());
    expect(await search({ role: "assistant" })).toEqual([ids[1]]);
    expect(await search({ min_importance: "0.5" })).toEqual([ids[0], ids[2]].sort());
    expect(await search({ conversation_id: conversationA, min_importance: "0.5" })).toEqual([ids[0]]);
    expect(await search({ tenant_id: "team-a" })).toEqual([ids[3]]);
    expect(await search({ tenant_id: "team-*" })).toEqual([]);
  });

  test("deleted messages leave search at once", async () => {
    const { token } = await h.account();
    const [id] = await storeAll(token, "del", ["The wifi password is on the fridge"]);
    const before = await h.json("GET", "/v1/memory/search?tenant_id=del&query=wifi%20password", { token });
    expect(before.body.results.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await h.request("DELETE", `/v1/messages/${id}`, { token })).status).toBe(204);
    const after = await h.json("GET", "/v1/memory/search?tenant_id=del&query=wifi%20password", { token });
    expect(after.body.results).toEqual([]);
    expect((await h.json("GET", `/v1/messages/${id}`, { token })).status).toBe(404);
  });

  test("top_k bounds: 0 means default 5, 101 is a 400", async () => {
    const { token } = await h.account();
    await storeAll(token, "k", Array.from({ length: 7 }, (_, i) => `note number ${i} about gardening`));
    const zero = await h.json("GET", "/v1/memory/search?tenant_id=k&query=gardening&top_k=0", { token });
    expect(zero.body.results).toHaveLength(5);
    const none = await h.json("GET", "/v1/memory/search?tenant_id=k&query=gardening", { token });
    expect(none.body.results).toHaveLength(5);
    const over = await h.json("GET", "/v1/memory/search?tenant_id=k&query=gardening&top_k=101", { token });
    expect(over.status).toBe(400);
    expect(over.body.details[0].field).toBe("top_k");
  });
});
