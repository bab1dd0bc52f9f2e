import { describe, expect, test } from "bun:test";
import { keys } from "../../src/store/keys";
import { countVectors, eventually, useHarness } from "../helpers/app";

// OUTBOX_REDRIVE_MS 1000: the workers' sweeps (outbox and expiry) run every second.
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10", OUTBOX_REDRIVE_MS: "1000" }, { worker: true });

type Msg = { id: string; status: string; content: string; created_at: string; conversation_id: string; role: string };

async function store(token: string, messages: Record<string, unknown>[]): Promise<Msg[]> {
  const res = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
  if (res.status !== 202) throw new Error(JSON.stringify(res.body));
  return res.body.created;
}

async function indexed(token: string, ids: string[]) {
  await eventually(`${ids.length} messages indexed`, async () => {
    const rows = await Promise.all(ids.map((id) => h.json("GET", `/v1/messages/${id}`, { token })));
    return rows.every((r) => r.body.status === "indexed");
  });
}

/** Every page of a listing, following next_cursor. */
async function listAll(token: string, query: string): Promise<Msg[]> {
  const out: Msg[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { messages: Msg[]; next_cursor: string | null } } = await h.json("GET", `/v1/messages?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    expect(res.status).toBe(200);
    out.push(...res.body.messages);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

describe("listing messages", () => {
  test("newest or oldest first, cursor pages that neither skip nor repeat while messages are added", async () => {
    const { token } = await h.account();
    const first = await store(token, Array.from({ length: 25 }, (_, i) => ({ tenant_id: "t", conversation_id: `c${i % 3}`, role: i % 2 ? "assistant" : "user", content: `message ${i}`, created_at: at(100 - i) })));
    const page1 = await h.json("GET", "/v1/messages?tenant_id=t&limit=10&order=oldest", { token });
    expect(page1.body.messages.map((m: Msg) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i}`));
    // Added meanwhile: newer ones show up at the end, an older one (before the cursor) does not shift the pages.
    await store(token, [
      { tenant_id: "t", conversation_id: "c0", role: "user", content: "late but old", created_at: at(200) },
      { tenant_id: "t", conversation_id: "c0", role: "user", content: "new one" },
    ]);
    const rest: Msg[] = [];
    let cursor = page1.body.next_cursor;
    while (cursor) {
      const page = await h.json("GET", `/v1/messages?tenant_id=t&limit=10&order=oldest&cursor=${encodeURIComponent(cursor)}`, { token });
      rest.push(...page.body.messages);
      cursor = page.body.next_cursor;
    }
    expect(rest.map((m) => m.content)).toEqual([...Array.from({ length: 15 }, (_, i) => `message ${i + 10}`), "new one"]);
    const newest = await listAll(token, "tenant_id=t&limit=7");
    expect(newest.map((m) => m.content)).toEqual(["new one", ...first.map((m) => m.content).reverse(), "late but old"]);
  });

  test("filters: conversation, roles, status, created range; a page may be short with a cursor", async () => {
    const { token } = await h.account();
    const stored = await store(token, Array.from({ length: 12 }, (_, i) => ({ tenant_id: "t", conversation_id: i < 6 ? "a" : "b", role: i % 3 === 0 ? "system" : "user", content: `m${i}`, created_at: at(60 - i) })));
    expect((await listAll(token, "tenant_id=t&conversation_id=b&order=oldest")).map((m) => m.content)).toEqual(["m6", "m7", "m8", "m9", "m10", "m11"]);
    expect((await listAll(token, "tenant_id=t&role=system&order=oldest&limit=2")).map((m) => m.content)).toEqual(["m0", "m3", "m6", "m9"]);
    expect((await listAll(token, `tenant_id=t&order=oldest&created_after=${encodeURIComponent(stored[4].created_at)}&created_before=${encodeURIComponent(stored[7].created_at)}`)).map((m) => m.content)).toEqual(["m4", "m5", "m6"]);
    // A worker runs: pending, then indexed (in that order, so a message indexed meanwhile is in the second)
    // cover all twelve, whatever the split.
    const pending = await listAll(token, "tenant_id=t&status=pending");
    const done = await listAll(token, "tenant_id=t&status=indexed,failed");
    expect(pending.length + done.length).toBeGreaterThanOrEqual(12);
    await indexed(token, stored.map((m) => m.id));
    expect((await listAll(token, "tenant_id=t&status=indexed")).length).toBe(12);
    expect((await listAll(token, "tenant_id=t&status=pending")).length).toBe(0);
  });

  test("bad input: a cursor not made by the API, or made for other parameters, an unknown status, limit out of range", async () => {
    const { token } = await h.account();
    await store(token, [1, 2, 3].map((i) => ({ tenant_id: "t", conversation_id: "c", role: "user", content: `m${i}` })));
    const page = await h.json("GET", "/v1/messages?tenant_id=t&limit=1", { token });
    const cursor = encodeURIComponent(page.body.next_cursor);
    for (const query of ["cursor=not-a-cursor", `cursor=${cursor}&order=oldest`, `cursor=${cursor}&conversation_id=c`, "cursor=eyJ2IjoxfQ"]) {
      const res = await h.json("GET", `/v1/messages?tenant_id=t&${query}`, { token });
      expect({ query, status: res.status, code: res.body.code }).toEqual({ query, status: 400, code: "invalid_cursor" });
    }
    for (const query of ["status=gone", "limit=0", "limit=1001", "created_after=yesterday", "order=random"]) {
      const res = await h.json("GET", `/v1/messages?tenant_id=t&${query}`, { token });
      expect({ query, status: res.status, code: res.body.code }).toEqual({ query, status: 400, code: "validation_error" });
    }
  });
});

describe("tenants", () => {
  test("each tenant's messages, conversations and counts by status; an API key sees its own tenants", async () => {
    const { token } = await h.account();
    const a = await store(token, [1, 2, 3].map((i) => ({ tenant_id: "alpha", conversation_id: `c${i % 2}`, role: "user", content: `alpha ${i}` })));
    await store(token, [{ tenant_id: "beta", conversation_id: "c", role: "user", content: "beta" }]);
    const before = await h.json("GET", "/v1/tenants", { token });
    expect(before.status).toBe(200);
    expect(before.body.tenants.map((t: { tenant_id: string }) => t.tenant_id)).toEqual(["alpha", "beta"]);
    await indexed(token, a.map((m) => m.id));
    const after = await h.json("GET", "/v1/tenants/alpha", { token });
    expect(after.body).toEqual({ tenant_id: "alpha", messages: 3, conversations: 2, pending: 0, indexed: 3, failed: 0, retention_days: null });
    const paged = await h.json("GET", "/v1/tenants?limit=1", { token });
    expect(paged.body.tenants.map((t: { tenant_id: string }) => t.tenant_id)).toEqual(["alpha"]);
    const next = await h.json("GET", `/v1/tenants?limit=1&cursor=${paged.body.next_cursor}`, { token });
    expect(next.body).toMatchObject({ tenants: [{ tenant_id: "beta", messages: 1 }], next_cursor: null });
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "beta only", tenant_ids: ["beta"] } })).body.key;
    expect((await h.json("GET", "/v1/tenants", { apiKey: key })).body.tenants.map((t: { tenant_id: string }) => t.tenant_id)).toEqual(["beta"]);
    expect((await h.json("GET", "/v1/tenants/alpha", { apiKey: key })).status).toBe(403);
    expect((await h.json("GET", "/v1/tenants?cursor=%%%", { token })).status).toBe(400);
  });
});

describe("updating a message", () => {
  test("new content is embedded again (pending, then indexed) and search follows it; the old words no longer find it", async () => {
    const { token, userId } = await h.account();
    const [m] = await store(token, [{ tenant_id: "t", conversation_id: "c", role: "user", content: "My cat is called Biscuit" }]);
    await indexed(token, [m.id]);
    const events = await listen(userId);
    const res = await h.json("PATCH", `/v1/messages/${m.id}`, { token, body: { content: "I moved to Lisbon last spring" } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: m.id, content: "I moved to Lisbon last spring", status: "pending", indexed_at: null, updated_at: expect.any(String) });
    // Out of search until embedded again: never ranked by words it no longer has.
    const stale = await h.json("GET", "/v1/memory/search?tenant_id=t&query=Biscuit&mode=keyword", { token });
    expect(stale.body.results).toEqual([]);
    await indexed(token, [m.id]);
    const found = await h.json("GET", "/v1/memory/search?tenant_id=t&query=Lisbon&mode=keyword", { token });
    expect(found.body.results.map((r: { id: string }) => r.id)).toEqual([m.id]);
    expect(events.types()).toContain("message.updated");
    events.close();
    const tenant = await h.json("GET", "/v1/tenants/t", { token });
    expect(tenant.body).toMatchObject({ messages: 1, pending: 0, indexed: 1 });
  });

  test("metadata and importance reach the index at once, without embedding again", async () => {
    const { token, userId } = await h.account();
    const [m] = await store(token, [{ tenant_id: "t", conversation_id: "c", role: "user", content: "The invoice is due on Friday", metadata: { source: "email" }, importance: 0.2 }]);
    await indexed(token, [m.id]);
    const indexedAt = (await h.json("GET", `/v1/messages/${m.id}`, { token })).body.indexed_at;
    const res = await h.json("PATCH", `/v1/messages/${m.id}`, { token, body: { metadata: { source: "crm" }, importance: 0.9 } });
    expect(res.body).toMatchObject({ status: "indexed", indexed_at: indexedAt, metadata: { source: "crm" }, importance: 0.9 });
    const search = (filters: string) => h.json("GET", `/v1/memory/search?tenant_id=t&query=invoice${filters}`, { token });
    expect((await search(`&metadata=${encodeURIComponent('{"source":"crm"}')}&min_importance=0.8`)).body.results.map((r: { id: string }) => r.id)).toEqual([m.id]);
    expect((await search(`&metadata=${encodeURIComponent('{"source":"email"}')}`)).body.results).toEqual([]);
    // Still the one vector, never re-embedded: the index kept it.
    expect(await countVectors(h.deps, userId, "t")).toBe(1);
    expect((await h.json("PATCH", `/v1/messages/${m.id}`, { token, body: { metadata: null } })).body.metadata).toBeNull();
    expect((await search(`&metadata=${encodeURIComponent('{"source":"crm"}')}`)).body.results).toEqual([]);
  });

  test("concurrent updates: the last one wins, and the index agrees with the stored message", async () => {
    const { token } = await h.account();
    const [m] = await store(token, [{ tenant_id: "t", conversation_id: "c", role: "user", content: "version zero of the note" }]);
    const contents = Array.from({ length: 8 }, (_, i) => `version ${i + 1} of the note, zebra${i + 1}`);
    for (const content of contents) await h.json("PATCH", `/v1/messages/${m.id}`, { token, body: { content } });
    await indexed(token, [m.id]);
    expect((await h.json("GET", `/v1/messages/${m.id}`, { token })).body.content).toBe(contents[7]);
    const hit = await h.json("GET", "/v1/memory/search?tenant_id=t&query=zebra8&mode=keyword", { token });
    expect(hit.body.results.map((r: { content: string }) => r.content)).toEqual([contents[7]]);
    expect((await h.json("GET", "/v1/memory/search?tenant_id=t&query=zebra3&mode=keyword", { token })).body.results).toEqual([]);
  });

  test("bad input: nothing to update, expiry in the past, both expiry forms, another account's message", async () => {
    const { token } = await h.account();
    const other = await h.account();
    const [m] = await store(token, [{ tenant_id: "t", conversation_id: "c", role: "user", content: "hello" }]);
    for (const body of [{}, { expires_at: "2020-01-01T00:00:00Z" }, { ttl_seconds: 60, expires_at: "2099-01-01T00:00:00Z" }, { importance: 2 }, { content: "" }, { metadata: "x" }]) {
      const res = await h.json("PATCH", `/v1/messages/${m.id}`, { token, body });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    expect((await h.json("PATCH", `/v1/messages/${m.id}`, { token: other.token, body: { importance: 1 } })).status).toBe(404);
  });
});

describe("expiry", () => {
  test("ttl_seconds and expires_at are validated on ingest: not in the past, not both", async () => {
    const { token } = await h.account();
    const base = { tenant_id: "t", conversation_id: "c", role: "user", content: "x" };
    for (const extra of [{ expires_at: "2020-01-01T00:00:00Z" }, { ttl_seconds: 0 }, { ttl_seconds: 10, expires_at: "2099-01-01T00:00:00Z" }, { expires_at: "soon" }]) {
      const res = await h.json("POST", "/v1/messages", { token, body: { ...base, ...extra } });
      expect({ extra, status: res.status, code: res.body.code }).toEqual({ extra, status: 400, code: "validation_error" });
    }
    const ok = await h.json("POST", "/v1/messages", { token, body: { ...base, expires_at: "2099-01-01T00:00:00Z" } });
    expect(ok.body.expires_at).toBe("2099-01-01T00:00:00.000Z");
  });

  test("an expired message is never shown, even before the sweeper; then it is removed with its vector, with reason expired", async () => {
    const { token, userId } = await h.account();
    const [keep, gone] = await store(token, [
      { tenant_id: "t", conversation_id: "c", role: "user", content: "the blue umbrella stays" },
      { tenant_id: "t", conversation_id: "c", role: "user", content: "the red umbrella expires", ttl_seconds: 2 },
    ]);
    await indexed(token, [keep.id, gone.id]);
    const events = await listen(userId);
    await eventually("the message expired", () => Date.now() > Date.parse(gone.created_at) + 2000);
    const views = async () => ({
      get: (await h.json("GET", `/v1/messages/${gone.id}`, { token })).status,
      list: (await listAll(token, "tenant_id=t")).map((m) => m.id),
      history: (await h.json("GET", "/v1/conversations/c/messages?tenant_id=t", { token })).body.messages.map((m: Msg) => m.id),
      search: (await h.json("GET", "/v1/memory/search?tenant_id=t&query=umbrella", { token })).body.results.map((r: { id: string }) => r.id),
    });
    expect(await views()).toEqual({ get: 404, list: [keep.id], history: [keep.id], search: [keep.id] });
    await eventually("the sweeper removed it", async () => !(await h.deps.redis.exists(keys.message(userId, gone.id))));
    expect(await countVectors(h.deps, userId, "t")).toBe(1);
    expect(await h.deps.redis.zscore(keys.expiriesOf(userId), `${userId}:${gone.id}`)).toBeNull();
    await eventually("message.deleted with reason expired", () => events.all().some((e) => e.type === "message.deleted" && e.reason === "expired" && e.message.id === gone.id));
    events.close();
    expect((await h.json("GET", "/v1/tenants/t", { token })).body).toMatchObject({ messages: 1, indexed: 1 });
  });

  test("a retention policy hides older messages at once and the sweeper removes them", async () => {
    const { token, userId } = await h.account();
    const [old, recent] = await store(token, [
      { tenant_id: "t", conversation_id: "c", role: "user", content: "an old memory of Paris", created_at: at(3 * 24 * 60) },
      { tenant_id: "t", conversation_id: "c", role: "user", content: "a recent memory of Paris" },
    ]);
    await indexed(token, [old.id, recent.id]);
    expect((await h.json("GET", "/v1/tenants/t/policy", { token })).body).toEqual({ tenant_id: "t", retention_days: null, updated_at: null });
    const set = await h.json("PUT", "/v1/tenants/t/policy", { token, body: { retention_days: 2 } });
    expect(set.body).toEqual({ tenant_id: "t", retention_days: 2, updated_at: expect.any(String) });
    expect((await h.json("GET", `/v1/messages/${old.id}`, { token })).status).toBe(404);
    expect((await h.json("GET", "/v1/memory/search?tenant_id=t&query=Paris", { token })).body.results.map((r: { id: string }) => r.id)).toEqual([recent.id]);
    await eventually("the sweeper removed it", async () => !(await h.deps.redis.exists(keys.message(userId, old.id))));
    expect((await h.json("GET", "/v1/tenants/t", { token })).body).toMatchObject({ messages: 1, retention_days: 2 });
    for (const body of [{ retention_days: 0 }, { retention_days: 1.5 }, {}]) expect((await h.json("PUT", "/v1/tenants/t/policy", { token, body })).status).toBe(400);
    expect((await h.json("PUT", "/v1/tenants/t/policy", { token, body: { retention_days: null } })).body.retention_days).toBeNull();
  });
});

/** Collects an account's message events from its shard's channel (as the WebSocket hub hears them). */
async function listen(account: string) {
  const subscriber = h.deps.connect("subscriber");
  const seen: { type: string; reason?: string; message: { id: string } }[] = [];
  subscriber.on("smessage", (_channel: string, text: string) => {
    const { account: owner, event } = JSON.parse(text);
    if (owner === account) seen.push(event);
  });
  await subscriber.ssubscribe(keys.eventsChannelOf(account));
  return { all: () => seen, types: () => seen.map((e) => e.type), close: () => subscriber.disconnect() };
}
