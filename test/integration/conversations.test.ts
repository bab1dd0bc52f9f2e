import { describe, expect, test } from "bun:test";
import { countVectors, eventually, useHarness } from "../helpers/app";

const h = useHarness({ EMBED_BATCH_WAIT_MS: "10" }, { worker: true });

describe("conversations", () => {
  test("the guide's create / get / list: 201 then 200 with title and metadata updated", async () => {
    const { token } = await h.account();
    const created = await h.json("POST", "/v1/conversations", { token, body: { tenant_id: "my-app", conversation_id: "user-123", title: null, metadata: null } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      tenant_id: "my-app", conversation_id: "user-123", title: null, metadata: null, message_count: 0,
      created_at: expect.any(String), updated_at: expect.any(String), last_message_at: null,
    });
    const updated = await h.json("POST", "/v1/conversations", { token, body: { tenant_id: "my-app", conversation_id: "user-123", title: "Python help", metadata: { plan: "pro" } } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ title: "Python help", metadata: { plan: "pro" }, created_at: created.body.created_at });
    const kept = await h.json("POST", "/v1/conversations", { token, body: { tenant_id: "my-app", conversation_id: "user-123" } });
    expect(kept.body.title).toBe("Python help");
    expect((await h.json("GET", "/v1/conversations/user-123", { token })).body).toEqual(kept.body);
  });

  test("listing is newest activity first and paginated", async () => {
    const { token } = await h.account();
    for (const c of ["a", "b", "c"]) {
      await h.json("POST", "/v1/messages", { token, body: { tenant_id: "t", conversation_id: c, role: "user", content: `hello ${c}` } });
      // Activity is scored in milliseconds: the next message must come in a later one to sort apart.
      const at = Date.now();
      await eventually("the next millisecond", () => Date.now() > at);
    }
    await h.json("POST", "/v1/messages", { token, body: { tenant_id: "t", conversation_id: "a", role: "user", content: "a again" } });
    const page = await h.json("GET", "/v1/conversations?tenant_id=t&limit=2&offset=0", { token });
    expect(page.body.total).toBe(3);
    expect(page.body.conversations.map((c: { conversation_id: string }) => c.conversation_id)).toEqual(["a", "c"]);
    expect(page.body.conversations[0].message_count).toBe(2);
    const next = await h.json("GET", "/v1/conversations?tenant_id=t&limit=2&offset=2", { token });
    expect(next.body).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(next.body.conversations.map((c: { conversation_id: string }) => c.conversation_id)).toEqual(["b"]);
    expect((await h.json("GET", "/v1/conversations?tenant_id=t&limit=0", { token })).status).toBe(400);
  });

  test("a conversation id used in two tenants needs tenant_id (409 otherwise)", async () => {
    const { token } = await h.account();
    for (const tenant of ["t1", "t2"]) await h.json("POST", "/v1/conversations", { token, body: { tenant_id: tenant, conversation_id: "same" } });
    const ambiguous = await h.json("GET", "/v1/conversations/same", { token });
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.body.details).toEqual({ tenant_ids: ["t1", "t2"] });
    expect((await h.json("GET", "/v1/conversations/same?tenant_id=t2", { token })).body.tenant_id).toBe("t2");
    expect((await h.json("GET", "/v1/conversations/missing", { token })).status).toBe(404);
  });

  test("history comes in order, paginated", async () => {
    const { token } = await h.account();
    const messages = Array.from({ length: 25 }, (_, i) => ({ tenant_id: "h", conversation_id: "c", role: i % 2 ? "assistant" : "user", content: `turn ${i}` }));
    await h.json("POST", "/v1/messages/batch", { token, body: { messages: messages.slice(0, 10) } });
    for (const m of messages.slice(10)) await h.json("POST", "/v1/messages", { token, body: m });
    const page = await h.json("GET", "/v1/conversations/c/messages?limit=10&offset=10", { token });
    expect(page.body).toMatchObject({ tenant_id: "h", conversation_id: "c", total: 25, limit: 10, offset: 10 });
    expect(page.body.messages.map((m: { content: string }) => m.content)).toEqual(messages.slice(10, 20).map((m) => m.content));
  });

  test("deleting a conversation removes its messages and their vectors", async () => {
    const { token, userId } = await h.account();
    const { body } = await h.json("POST", "/v1/messages/batch", {
      token,
      body: { messages: ["my dog is called Rex", "I live in Lisbon"].map((content) => ({ tenant_id: "d", conversation_id: "gone", role: "user", content })) },
    });
    const keep = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "d", conversation_id: "kept", role: "user", content: "my cat is called Tom" } });
    const ids = [...body.created.map((m: { id: string }) => m.id), keep.body.id];
    await eventually("indexed", async () => (await Promise.all(ids.map((id) => h.json("GET", `/v1/messages/${id}`, { token })))).every((r) => r.body.status === "indexed"));
    expect(await countVectors(h.deps, userId, "d")).toBe(3);
    expect((await h.request("DELETE", "/v1/conversations/gone", { token })).status).toBe(204);
    for (const id of ids.slice(0, 2)) expect((await h.json("GET", `/v1/messages/${id}`, { token })).status).toBe(404);
    expect((await h.json("GET", "/v1/conversations/gone", { token })).status).toBe(404);
    const search = await h.json("GET", "/v1/memory/search?tenant_id=d&query=pets%20and%20cities&top_k=10", { token });
    expect(search.body.results.map((r: { id: string }) => r.id)).toEqual([keep.body.id]);
    expect(await countVectors(h.deps, userId, "d")).toBe(1);
  });
});
