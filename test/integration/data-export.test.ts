import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { keys } from "../../src/store/keys";
import { scanKeys } from "../../src/store/redis";
import { eventually, useHarness } from "../helpers/app";

const h = useHarness({ EMBED_BATCH_WAIT_MS: "10", MAX_BODY_BYTES: "65536", MAX_IMPORT_BYTES: "4000000" }, { worker: true });

type Msg = { id: string; status: string; content: string };
type Job = { id: string; status: string; deleted: number };

async function store(token: string, messages: Record<string, unknown>[]): Promise<Msg[]> {
  const res = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
  if (res.status !== 202) throw new Error(JSON.stringify(res.body));
  return res.body.created;
}

async function allIndexed(token: string, tenant: string) {
  await eventually(`tenant ${tenant} indexed`, async () => {
    const { body } = await h.json("GET", `/v1/tenants/${encodeURIComponent(tenant)}`, { token });
    return body.pending === 0 && body.messages > 0;
  });
}

async function finished(token: string, job: Job): Promise<Job> {
  return eventually(`job ${job.id} completed`, async () => {
    const { body } = await h.json("GET", `/v1/jobs/${job.id}`, { token });
    return body.status === "completed" || body.status === "failed" ? body : undefined;
  });
}

async function exportText(token: string, tenant: string, vectors: boolean): Promise<string> {
  const res = await h.request("GET", `/v1/tenants/${tenant}/export${vectors ? "?include_vectors=true" : ""}`, { token });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("application/x-ndjson");
  return res.text();
}

function importBody(token: string, tenant: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return h.app.handle(
    new Request(`http://localhost/v1/tenants/${tenant}/import`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", ...headers },
      body: body as BodyInit,
    }),
  );
}

/** Every key whose name mentions the tenant, and every message hash of it, on every master. */
async function leftovers(account: string, tenant: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of scanKeys(h.deps.redis, `*${account}*`)) {
    for (const key of batch) {
      if (key.includes(`:${tenant}`)) found.push(key);
      else if (key.startsWith(keys.message(account, "")) && (await h.deps.redis.hget(key, "tenant_id")) === tenant) found.push(key);
    }
  }
  return found;
}

const conversation = (i: number) => `conv-${i % 4}`;
const facts = [
  "I adopted a grey cat called Biscuit", "My sister lives in Porto", "I am training for a marathon in April",
  "The dentist appointment is on Tuesday", "I prefer green tea to coffee", "My laptop is a ThinkPad",
  "We are planning a trip to Japan", "I started learning the cello", "My favourite book is Dune",
  "The car needs new tyres", "I work night shifts at the hospital", "Our wedding anniversary is in June",
];

describe("export and import", () => {
  test("round trip with vectors: export, erase, import; list, history and search are identical, re-running changes nothing", async () => {
    const { token, userId } = await h.account();
    await h.json("POST", "/v1/conversations", { token, body: { tenant_id: "home", conversation_id: "conv-1", title: "Family", metadata: { kind: "family" } } });
    const created = await store(
      token,
      facts.map((content, i) => ({ tenant_id: "home", conversation_id: conversation(i), role: i % 2 ? "assistant" : "user", content, importance: (i % 5) / 5, metadata: { n: i } })),
    );
    await allIndexed(token, "home");
    const snapshot = async () => ({
      list: (await h.json("GET", "/v1/messages?tenant_id=home&limit=1000", { token })).body.messages,
      history: (await h.json("GET", "/v1/conversations/conv-1/messages?tenant_id=home", { token })).body.messages,
      conversations: (await h.json("GET", "/v1/conversations?tenant_id=home", { token })).body.conversations,
      searches: await Promise.all(
        ["what pet do I have", "where does my sister live", "japan trip", "hot drinks"].map(async (q) =>
          // recency's value moves with the clock (its weight is 0); everything else must not move
          (await h.json("GET", `/v1/memory/search?tenant_id=home&top_k=5&explain=true&query=${encodeURIComponent(q)}`, { token })).body.results.map(
            (r: { explain: { recency: unknown } }) => ({ ...r, explain: { ...r.explain, recency: null } }),
          ),
        ),
      ),
    });
    const before = await snapshot();
    expect(before.list.length).toBe(created.length);
    const exported = await exportText(token, "home", true);
    const lines = exported.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === "conversation").length).toBe(4);
    expect(lines.filter((l) => l.type === "message" && typeof l.vector === "string" && l.vector_model === h.deps.embedder.modelKey).length).toBe(12);

    const erase = await h.json("DELETE", "/v1/tenants/home", { token });
    expect(erase.status).toBe(202);
    expect((await finished(token, erase.body)).deleted).toBe(12);
    expect(await leftovers(userId, "home")).toEqual([]);
    expect((await h.json("GET", "/v1/tenants/home", { token })).body).toMatchObject({ messages: 0, conversations: 0 });

    const embedded = Number((await h.deps.redis.hget(keys.statsOf(userId), "indexed")) ?? 0);
    const imported = await importBody(token, "home", exported);
    expect(imported.status).toBe(200);
    expect(await imported.json()).toEqual({ lines: 16, imported: 12, with_vectors: 12, unchanged: 0, conversations: 4, rejected: 0, errors: [] });
    // Stored indexed with their vectors: searchable at once, no job ran.
    expect((await h.json("GET", "/v1/tenants/home", { token })).body).toMatchObject({ messages: 12, pending: 0, indexed: 12 });
    expect(Number(await h.deps.redis.hget(keys.statsOf(userId), "indexed"))).toBe(embedded + 12);
    expect(await snapshot()).toEqual(before);

    const again = await importBody(token, "home", gzipSync(exported), { "content-encoding": "gzip" });
    expect(await again.json()).toMatchObject({ imported: 0, unchanged: 12, rejected: 0 });
    expect(await snapshot()).toEqual(before);
  });

  test("without vectors (or of another model) messages are embedded on import; ids and created_at kept", async () => {
    const { token } = await h.account();
    const created = await store(token, facts.slice(0, 3).map((content) => ({ tenant_id: "a", conversation_id: "c", role: "user", content, created_at: "2026-05-01T10:00:00Z" })));
    await allIndexed(token, "a");
    const other = await h.account();
    const text = (await exportText(token, "a", true)).replaceAll(h.deps.embedder.modelKey, "some-other-model");
    const res = await importBody(other.token, "a", text);
    expect(await res.json()).toMatchObject({ imported: 3, with_vectors: 0 });
    await allIndexed(other.token, "a");
    const copied = (await h.json("GET", "/v1/messages?tenant_id=a&order=oldest", { token: other.token })).body.messages;
    expect(copied.map((m: Msg & { created_at: string }) => [m.id, m.created_at, m.status])).toEqual(created.map((m) => [m.id, "2026-05-01T10:00:00.000Z", "indexed"]));
    const hit = await h.json("GET", "/v1/memory/search?tenant_id=a&query=which%20pet&top_k=1", { token: other.token });
    expect(hit.body.results[0].content).toBe(facts[0]);
  });

  test("bad lines are reported with their number and skipped; the rest is imported", async () => {
    const { token } = await h.account();
    const good = (id: string) => JSON.stringify({ id, conversation_id: "c", role: "user", content: `line ${id}`, created_at: "2026-01-01T00:00:00Z" });
    const body = [
      good("a"),
      "{not json",
      JSON.stringify({ id: "b", tenant_id: "someone-else", conversation_id: "c", role: "user", content: "x" }),
      "",
      JSON.stringify({ id: "c", conversation_id: "c", role: "robot", content: "x" }),
      JSON.stringify({ id: "d", conversation_id: "c", role: "user", content: "x", expires_at: "2020-01-01T00:00:00Z" }),
      "[1,2]",
      good("e"),
      JSON.stringify({ id: "a", conversation_id: "c", role: "user", content: "other content, same id", created_at: "2026-01-01T00:00:00Z" }),
    ].join("\n");
    const res = await importBody(token, "t", body);
    expect(res.status).toBe(200);
    const report = await res.json();
    expect(report).toMatchObject({ lines: 9, imported: 2, rejected: 6 });
    expect(report.errors.map((e: { line: number }) => e.line)).toEqual([2, 3, 5, 6, 7, 9]);
    expect(report.errors[1].message).toContain("someone-else");
    expect(report.errors[2].message).toBe("role must be one of user, assistant, system, tool");
    expect(report.errors[5].message).toContain("already used");
  });

  test("bodies: gzip bombs stop at the limit (413) on import and on JSON routes; other media types and encodings are refused", async () => {
    const { token } = await h.account();
    const bomb = gzipSync(Buffer.alloc(50_000_000, 0x20));
    expect(bomb.length).toBeLessThan(100_000);
    const res = await importBody(token, "t", bomb, { "content-encoding": "gzip" });
    expect({ status: res.status, code: (await res.json()).code }).toEqual({ status: 413, code: "payload_too_large" });
    const json = await h.app.handle(
      new Request("http://localhost/v1/messages", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-encoding": "gzip" }, body: gzipSync(Buffer.alloc(1_000_000, 0x20)) }),
    );
    expect(json.status).toBe(413);
    const small = await h.app.handle(
      new Request("http://localhost/v1/messages", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-encoding": "gzip" },
        body: gzipSync(JSON.stringify({ tenant_id: "t", conversation_id: "c", role: "user", content: "compressed" })),
      }),
    );
    expect(small.status).toBe(202);
    expect((await importBody(token, "t", "{}", { "content-type": "image/png" })).status).toBe(415);
    expect((await importBody(token, "t", "{}", { "content-encoding": "br" })).status).toBe(415);
    expect((await importBody(token, "t", "not gzip at all", { "content-encoding": "gzip" })).status).toBe(400);
  });

  test("scopes and tenants: export needs read, import write; an API key is held to its tenants", async () => {
    const { token } = await h.account();
    await store(token, [{ tenant_id: "t", conversation_id: "c", role: "user", content: "x" }]);
    const readOnly = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "ro", scopes: ["read"] } })).body.key;
    const other = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "u", tenant_ids: ["u"] } })).body.key;
    expect((await h.request("GET", "/v1/tenants/t/export", { apiKey: readOnly })).status).toBe(200);
    expect((await h.request("GET", "/v1/tenants/t/export", { apiKey: other })).status).toBe(403);
    const imported = await h.app.handle(new Request("http://localhost/v1/tenants/t/import", { method: "POST", headers: { "x-api-key": readOnly, "content-type": "application/x-ndjson" }, body: "" }));
    expect(imported.status).toBe(403);
    expect((await h.json("DELETE", "/v1/tenants/t", { apiKey: readOnly })).status).toBe(403);
  });
});

describe("deleting by filter", () => {
  test("by metadata and time range, in a job; other messages stay; the job belongs to its account", async () => {
    const { token, userId } = await h.account();
    const stored = await store(
      token,
      Array.from({ length: 30 }, (_, i) => ({
        tenant_id: "t", conversation_id: `c${i % 2}`, role: "user", content: `note ${i}`,
        metadata: { source: i % 3 === 0 ? "import" : "chat" }, created_at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
      })),
    );
    await allIndexed(token, "t");
    const res = await h.json("POST", "/v1/messages/delete", { token, body: { tenant_id: "t", metadata: { source: "import" }, created_before: "2026-01-16T00:00:00Z" } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: "delete", tenant_id: "t", status: "queued", deleted: 0 });
    const done = await finished(token, res.body);
    // days 1..15 are indices 0..14; of those, multiples of 3: 0, 3, 6, 9, 12
    expect(done).toMatchObject({ status: "completed", deleted: 5, finished_at: expect.any(String), error: null });
    const left = (await h.json("GET", "/v1/messages?tenant_id=t&limit=100&order=oldest", { token })).body.messages.map((m: Msg) => m.content);
    expect(left).toEqual(stored.map((m) => m.content).filter((_, i) => !(i < 15 && i % 3 === 0)));
    expect((await h.json("GET", "/v1/tenants/t", { token })).body).toMatchObject({ messages: 25, indexed: 25 });
    expect(await h.deps.redis.hlen(h.deps.vectors.removalFor(userId, "t", "x").exactKey).catch(() => 25)).toBe(h.deps.vectors.engine === "exact" ? 25 : 0);
    const conv = await h.json("POST", "/v1/messages/delete", { token, body: { tenant_id: "t", conversation_id: "c1" } });
    expect((await finished(token, conv.body)).deleted).toBe(13);
    const stranger = await h.account();
    expect((await h.json("GET", `/v1/jobs/${res.body.id}`, { token: stranger.token })).status).toBe(404);
    for (const body of [{ tenant_id: "t", created_before: "someday" }, { tenant_id: "t", metadata: { a: [1] } }, {}]) {
      expect((await h.json("POST", "/v1/messages/delete", { token, body })).status).toBe(400);
    }
  });

  test("erasing a tenant is idempotent and leaves other tenants alone", async () => {
    const { token, userId } = await h.account();
    await store(token, [
      { tenant_id: "gone", conversation_id: "c", role: "user", content: "to be erased", ttl_seconds: 3600 },
      { tenant_id: "stays", conversation_id: "c", role: "user", content: "kept" },
    ]);
    await h.json("PUT", "/v1/tenants/gone/policy", { token, body: { retention_days: 30 } });
    await allIndexed(token, "gone");
    const first = await finished(token, (await h.json("DELETE", "/v1/tenants/gone", { token })).body);
    const second = await finished(token, (await h.json("DELETE", "/v1/tenants/gone", { token })).body);
    expect([first.deleted, second.deleted]).toEqual([1, 0]);
    expect(await leftovers(userId, "gone")).toEqual([]);
    expect(await h.deps.redis.zcard(keys.expiriesOf(userId))).toBe(0);
    expect(await h.deps.redis.smembers(keys.retentionTenantsOf(userId))).toEqual([]);
    expect((await h.json("GET", "/v1/tenants", { token })).body.tenants.map((t: { tenant_id: string }) => t.tenant_id)).toEqual(["stays"]);
    if (h.deps.vectors.engine === "query-engine") {
      const hits = (await h.deps.redis.call("FT.SEARCH", h.deps.vectors.name, `@account:{${userId.replace(/-/g, "\\-")}} @tenant:{gone}`, "LIMIT", "0", "0")) as unknown[];
      expect(hits[0]).toBe(0);
    }
  });
});
