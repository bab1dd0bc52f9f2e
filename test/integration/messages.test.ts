import { describe, expect, test } from "bun:test";
import { keys, outboxMember } from "../../src/store/keys";
import { useHarness } from "../helpers/app";

const h = useHarness();
const msg = (i: number, extra: Record<string, unknown> = {}) => ({
  tenant_id: "my-app",
  conversation_id: "user-123",
  role: "user",
  content: `message number ${i}`,
  ...extra,
});

describe("POST /v1/messages", () => {
  test("202 with the stored message, pending, before any embedding (no worker runs in this file)", async () => {
    const { token, userId } = await h.account();
    const { status, body } = await h.json("POST", "/v1/messages", {
      token,
      body: { ...msg(1), importance: 0.8, metadata: { source: "web", session_id: "abc123" } },
    });
    expect(status).toBe(202);
    expect(body).toEqual({
      id: expect.any(String), tenant_id: "my-app", conversation_id: "user-123", role: "user", content: "message number 1",
      importance: 0.8, metadata: { source: "web", session_id: "abc123" }, status: "pending", created_at: expect.any(String),
      indexed_at: null, error: null, expires_at: null, updated_at: null,
    });
    const got = await h.json("GET", `/v1/messages/${body.id}`, { token });
    expect(got.body).toEqual(body);
    // Stored with its outbox and dispatch entries in the same step; no worker has run.
    expect(await h.deps.redis.lrange(keys.dispatchOf(userId), 0, -1)).toContain(outboxMember(userId, body.id));
    expect(await h.deps.redis.zscore(keys.outboxOf(userId), outboxMember(userId, body.id))).not.toBeNull();
  });

  test("the guide's nulls mean 'not given'; tool role is accepted", async () => {
    const { token } = await h.account();
    const { status, body } = await h.json("POST", "/v1/messages", { token, body: { ...msg(2), role: "tool", importance: null, metadata: null } });
    expect(status).toBe(202);
    expect(body).toMatchObject({ role: "tool", importance: 0.5, metadata: null });
  });

  test("content over MAX_CONTENT_CHARS and metadata over its limit are 400", async () => {
    const { token } = await h.account();
    const long = await h.json("POST", "/v1/messages", { token, body: { ...msg(3), content: "x".repeat(32_001) } });
    expect(long.status).toBe(400);
    expect(long.body.details).toEqual([{ field: "content", message: "At most 32000 characters" }]);
    const meta = await h.json("POST", "/v1/messages", { token, body: { ...msg(3), metadata: { blob: "y".repeat(20_000) } } });
    expect(meta.status).toBe(400);
    expect(meta.body.details[0].field).toBe("metadata");
  });

  test("a retry with the same client id stores once and gets the original message", async () => {
    const { token } = await h.account();
    const first = await h.json("POST", "/v1/messages", { token, body: { ...msg(4), id: "client-42" } });
    const again = await h.json("POST", "/v1/messages", { token, body: { ...msg(4), id: "client-42" } });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const history = await h.json("GET", "/v1/conversations/user-123/messages", { token });
    expect(history.body.total).toBe(1);
    const conflict = await h.json("POST", "/v1/messages", { token, body: { ...msg(5), id: "client-42" } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe("idempotency_conflict");
  });

  test("Idempotency-Key makes a retry safe for single and batch requests", async () => {
    const { token } = await h.account();
    const headers = { "idempotency-key": "req-7f3a" };
    const a = await h.json("POST", "/v1/messages", { token, headers, body: msg(6) });
    const b = await h.json("POST", "/v1/messages", { token, headers, body: msg(6) });
    expect(b.body.id).toBe(a.body.id);
    const batchHeaders = { "idempotency-key": "batch-1" };
    const body = { messages: [msg(7), msg(8)] };
    const c = await h.json("POST", "/v1/messages/batch", { token, headers: batchHeaders, body });
    const d = await h.json("POST", "/v1/messages/batch", { token, headers: batchHeaders, body });
    expect(d.body.created.map((m: { id: string }) => m.id)).toEqual(c.body.created.map((m: { id: string }) => m.id));
    expect((await h.json("GET", "/v1/conversations/user-123", { token })).body.message_count).toBe(3);
  });

  test("GET and DELETE with Content-Type: application/json and no body (Go and TS clients) work", async () => {
    const { token } = await h.account();
    const { body } = await h.json("POST", "/v1/messages", { token, body: msg(9) });
    const headers = { "content-type": "application/json" };
    expect((await h.request("GET", `/v1/messages/${body.id}`, { token, headers })).status).toBe(200);
    expect((await h.request("DELETE", `/v1/messages/${body.id}`, { token, headers })).status).toBe(204);
    expect((await h.request("GET", `/v1/messages/${body.id}`, { token, headers })).status).toBe(404);
  });
});

describe("POST /v1/messages/batch", () => {
  test("1,000 messages are accepted, in input order", async () => {
    const { token } = await h.account();
    const messages = Array.from({ length: 1000 }, (_, i) => msg(i));
    const { status, body } = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
    expect(status).toBe(202);
    expect(body.created).toHaveLength(1000);
    expect(body.created.map((m: { content: string }) => m.content)).toEqual(messages.map((m) => m.content));
    const history = await h.json("GET", "/v1/conversations/user-123/messages?limit=1000", { token });
    expect(history.body.total).toBe(1000);
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(messages.map((m) => m.content));
  });

  test("1,001 messages or an empty batch is 400", async () => {
    const { token } = await h.account();
    const over = await h.json("POST", "/v1/messages/batch", { token, body: { messages: Array.from({ length: 1001 }, (_, i) => msg(i)) } });
    expect(over.status).toBe(400);
    const empty = await h.json("POST", "/v1/messages/batch", { token, body: { messages: [] } });
    expect(empty.status).toBe(400);
  });

  test("an invalid item stores nothing and the 400 names each bad item by index and field", async () => {
    const { token, userId } = await h.account();
    const messages = [msg(0), msg(1), { ...msg(2), content: "" }, msg(3), { ...msg(4), role: "robot" }];
    const { status, body } = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
    expect(status).toBe(400);
    expect(body.details.map((d: { field: string }) => d.field).sort()).toEqual(["messages.2.content", "messages.4.role"]);
    const list = await h.json("GET", "/v1/conversations?tenant_id=my-app", { token });
    expect(list.body.total).toBe(0);
    // Nor is anything of this account waiting to be indexed (other tests share the outbox and dispatch list).
    const ours = (members: string[]) => members.filter((m) => m.startsWith(outboxMember(userId, "")));
    expect(ours(await h.deps.redis.zrange(keys.outboxOf(userId), "0", "-1"))).toEqual([]);
    expect(ours(await h.deps.redis.lrange(keys.dispatchOf(userId), 0, -1))).toEqual([]);
  });

  test("duplicate ids inside one batch are 400; an id used for other content is 409 and stores nothing", async () => {
    const { token } = await h.account();
    const dup = await h.json("POST", "/v1/messages/batch", { token, body: { messages: [msg(0, { id: "a" }), msg(1, { id: "a" })] } });
    expect(dup.status).toBe(400);
    expect(dup.body.details[0].field).toBe("messages.1.id");
    await h.json("POST", "/v1/messages", { token, body: msg(0, { id: "taken" }) });
    const clash = await h.json("POST", "/v1/messages/batch", { token, body: { messages: [msg(5, { id: "fresh" }), msg(6, { id: "taken" })] } });
    expect(clash.status).toBe(409);
    expect(clash.body.details).toEqual({ index: 1, id: "taken" });
    expect((await h.json("GET", "/v1/messages/fresh", { token })).status).toBe(404);
  });
});

describe("metadata must be a JSON object", () => {
  test("a string, number, boolean or array is a 400 naming the field, never coerced into an object", async () => {
    const { token } = await h.account();
    const base = { tenant_id: "meta", conversation_id: "c", role: "user", content: "hello" };
    for (const metadata of ["str", 5, true, [1]]) {
      const single = await h.json("POST", "/v1/messages", { token, body: { ...base, metadata } });
      expect(single.status).toBe(400);
      expect(single.body.details).toEqual([{ field: "metadata", message: "Expected a JSON object (or null)" }]);
      const batch = await h.json("POST", "/v1/messages/batch", { token, body: { messages: [{ ...base, metadata: { ok: 1 } }, { ...base, metadata }] } });
      expect(batch.status).toBe(400);
      expect(batch.body.details.map((d: { field: string }) => d.field)).toEqual(["messages.1.metadata"]);
      const conversation = await h.json("POST", "/v1/conversations", { token, body: { tenant_id: "meta", conversation_id: "c2", metadata } });
      expect(conversation.status).toBe(400);
      expect(conversation.body.details.map((d: { field: string }) => d.field)).toEqual(["metadata"]);
      const search = await h.json("POST", "/v1/memory/search", { token, body: { tenant_id: "meta", query: "hello", metadata } });
      expect(search.status).toBe(400);
      expect(search.body.details.map((d: { field: string }) => d.field)).toEqual(["metadata"]);
    }
    const history = await h.json("GET", "/v1/conversations/c/messages?tenant_id=meta", { token });
    expect(history.status).toBe(404); // nothing was stored
    const ok = await h.json("POST", "/v1/messages", { token, body: { ...base, metadata: { nested: { list: [1, "two"] } } } });
    expect(ok.status).toBe(202);
    expect(ok.body.metadata).toEqual({ nested: { list: [1, "two"] } });
    const none = await h.json("POST", "/v1/messages", { token, body: { ...base, metadata: null } });
    expect(none.body.metadata).toBeNull();
  });
});

describe("validation messages", () => {
  test("say the rule in words: allowed values, ranges, lengths and formats, never a raw regex", async () => {
    const { token } = await h.account();
    const bad = await h.json("POST", "/v1/messages", {
      token,
      body: { tenant_id: "x".repeat(129), conversation_id: "c\u0001", role: "robot", content: "", importance: 2 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([
      { field: "tenant_id", message: "tenant_id must be 1 to 128 characters" },
      { field: "conversation_id", message: "conversation_id must be printable text without control characters" },
      { field: "role", message: "role must be one of user, assistant, system, tool" },
      { field: "content", message: "content must be 1 to 1000000 characters" },
      { field: "importance", message: "importance must be a number from 0 to 1 (or null)" },
    ]);
    const register = await h.json("POST", "/v1/auth/register", { body: { email: "nope", username: "a b", password: "abcdefghij" } });
    expect(register.body.details).toEqual([
      { field: "email", message: "email must be an email address such as user@example.com" },
      { field: "username", message: "username must be 3 to 32 letters, digits, '_', '.' or '-'" },
      { field: "password", message: "password must be 8 to 128 characters with at least one letter and one digit" },
    ]);
    const search = await h.json("POST", "/v1/memory/search", { token, body: { tenant_id: "t", query: "q", top_k: 500, role: "robot", explain: "maybe" } });
    expect(search.body.details).toEqual([
      { field: "top_k", message: "top_k must be a whole number from 0 to 100" },
      { field: "role", message: "role must be one of user, assistant, system, tool, or a list of them" },
      { field: "explain", message: "explain must be true or false" },
    ]);
  });
});
