import { beforeAll, describe, expect, test } from "bun:test";
import { eventually, useHarness } from "../../../test/helpers/app";
import { startReceiver } from "../../../test/helpers/receiver";
import { type ExportLine, type ImportLine, MemoryMeshClient, type MessageInput } from "../src/index";
import { failure, listen, recordingFetch } from "./support";

/**
 * Every data endpoint the client wraps (messages, conversations, search, reindex, tenants, jobs,
 * webhooks) against the real server on a real port, with the real model and a real worker.
 * WEBHOOK_ALLOW_PRIVATE: the test's webhook receiver listens on loopback.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20", WEBHOOK_ALLOW_PRIVATE: "true" }, { worker: true, realtime: true });
let base = "";

beforeAll(() => {
  base = listen(h.app);
  h.cleanup(() => h.app.stop(true));
});

async function newClient(lose?: Parameters<typeof recordingFetch>[0], options: { idempotencyKeys?: boolean } = {}) {
  const account = await h.account("data");
  const recorder = recordingFetch(lose);
  const client = new MemoryMeshClient({ baseUrl: base, accessToken: account.token, refreshToken: account.refresh, fetch: recorder.fetch, ...options });
  return { client, account, ...recorder };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const input = (content: string, extra: Partial<MessageInput> = {}): MessageInput => ({ tenant_id: "app", conversation_id: "chat", role: "user", content, ...extra });

describe("messages", () => {
  test("store (202, pending), waitForIndexed, get, update (metadata at once, content re-indexed), delete", async () => {
    const { client, seen } = await newClient();
    const stored = await client.messages.store({ ...input("I adopted a golden retriever named Biscuit"), importance: 0.8, metadata: { source: "web" } });
    expect(stored).toEqual({
      id: expect.any(String),
      tenant_id: "app",
      conversation_id: "chat",
      role: "user",
      content: "I adopted a golden retriever named Biscuit",
      importance: 0.8,
      metadata: { source: "web" },
      status: "pending",
      created_at: expect.any(String),
      indexed_at: null,
      error: null,
      expires_at: null,
      updated_at: null,
    });
    expect(seen[0].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    const [indexed] = await client.messages.waitForIndexed([stored], { timeoutMs: 30_000 });
    expect(indexed).toEqual({ ...stored, status: "indexed", indexed_at: expect.any(String) });
    expect(await client.messages.get(stored.id)).toEqual(indexed);

    const retagged = await client.messages.update(stored.id, { metadata: { source: "app" }, importance: 0.3 });
    expect(retagged).toMatchObject({ id: stored.id, status: "indexed", metadata: { source: "app" }, importance: 0.3, updated_at: expect.any(String) });
    const rewritten = await client.messages.update(stored.id, { content: "Biscuit is a two year old golden retriever" });
    expect(rewritten).toMatchObject({ status: "pending", content: "Biscuit is a two year old golden retriever" });
    expect((await client.messages.waitForIndexed(stored.id))[0]).toMatchObject({ status: "indexed", content: "Biscuit is a two year old golden retriever" });

    await client.messages.delete(stored.id);
    expect((await failure(client.messages.get(stored.id))).status).toBe(404);
    const waitGone = await failure(client.messages.waitForIndexed(stored.id));
    expect({ status: waitGone.status, code: waitGone.code }).toEqual({ status: 404, code: "not_found" });
  });

  test("storeBatch, then list: one page, every page (cursor), every message; filters", async () => {
    const { client } = await newClient();
    const batch = await client.messages.storeBatch([
      input("one"),
      input("two", { role: "assistant" }),
      input("three"),
      input("four", { conversation_id: "other" }),
      input("five"),
    ]);
    expect(batch.created.map((m) => [m.content, m.status])).toEqual([
      ["one", "pending"],
      ["two", "pending"],
      ["three", "pending"],
      ["four", "pending"],
      ["five", "pending"],
    ]);
    const indexed = await client.messages.waitForIndexed(batch.created);
    expect(indexed.map((m) => m.id)).toEqual(batch.created.map((m) => m.id));

    const first = await client.messages.list({ tenant_id: "app", order: "oldest", limit: 2 });
    expect(first.messages.map((m) => m.content)).toEqual(["one", "two"]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const pages = await collect(client.messages.pages({ tenant_id: "app", order: "oldest", limit: 2 }));
    expect(pages.map((p) => p.messages.map((m) => m.content))).toEqual([["one", "two"], ["three", "four"], ["five"]]);
    expect(pages.at(-1)?.next_cursor).toBeNull();
    const all = await collect(client.messages.listAll({ tenant_id: "app", limit: 2 }));
    expect(all.map((m) => m.content)).toEqual(["five", "four", "three", "two", "one"]);
    const rest = await collect(client.messages.listAll({ tenant_id: "app", order: "oldest", limit: 2, cursor: first.next_cursor ?? undefined }));
    expect(rest.map((m) => m.content)).toEqual(["three", "four", "five"]);
    const filtered = await collect(client.messages.listAll({ tenant_id: "app", conversation_id: "chat", role: "user", status: "indexed", order: "oldest" }));
    expect(filtered.map((m) => m.content)).toEqual(["one", "three", "five"]);
  });

  test("a write whose answer is lost is retried with the same Idempotency-Key and stored once", async () => {
    let lost = 0;
    const { client, seen } = await newClient((request) => request.method === "POST" && request.path.startsWith("/v1/messages") && lost++ % 2 === 0);
    const stored = await client.messages.store(input("the answer to this was lost once"));
    const batch = await client.messages.storeBatch([input("batch one"), input("batch two")]);
    expect(seen.map((s) => `${s.method} ${s.path} ${s.status}`)).toEqual([
      "POST /v1/messages lost",
      "POST /v1/messages 202",
      "POST /v1/messages/batch lost",
      "POST /v1/messages/batch 202",
    ]);
    expect(seen[0].idempotencyKey).toBe(seen[1].idempotencyKey as string);
    expect(seen[2].idempotencyKey).toBe(seen[3].idempotencyKey as string);
    expect(seen[0].idempotencyKey).not.toBe(seen[2].idempotencyKey as string);
    const listed = await collect(client.messages.listAll({ tenant_id: "app", order: "oldest" }));
    expect(listed.map((m) => [m.id, m.content])).toEqual([
      [stored.id, "the answer to this was lost once"],
      [batch.created[0].id, "batch one"],
      [batch.created[1].id, "batch two"],
    ]);
  });

  test("without an idempotency key a lost answer is reported, not retried (the message may have been stored)", async () => {
    const { client, seen } = await newClient((request) => request.method === "POST", { idempotencyKeys: false });
    const error = await failure(client.messages.store(input("no key")));
    expect({ status: error.status, code: error.code }).toEqual({ status: 0, code: "network_error" });
    expect(seen.map((s) => [s.status, s.idempotencyKey])).toEqual([["lost", null]]);
  });

  test("deleteByFilter starts a job; jobs.get and waitForJob follow it to the end", async () => {
    const { client } = await newClient();
    await client.messages.storeBatch([input("keep me", { metadata: { source: "web" } }), input("drop me", { metadata: { source: "import" } }), input("drop me too", { metadata: { source: "import" } })]);
    const job = await client.messages.deleteByFilter({ tenant_id: "app", metadata: { source: "import" } });
    // (a copy: bun's toMatchObject writes its asymmetric matchers into the object it checks)
    expect(structuredClone(job)).toMatchObject({ id: expect.any(String), kind: "delete", tenant_id: "app", filter: { tenant_id: "app", metadata: { source: "import" } }, deleted: 0 });
    expect(["queued", "running", "completed"]).toContain((await client.jobs.get(job.id)).status);
    const done = await client.jobs.waitForJob(job, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ id: job.id, status: "completed", deleted: 2, finished_at: expect.any(String), error: null });
    expect((await collect(client.messages.listAll({ tenant_id: "app" }))).map((m) => m.content)).toEqual(["keep me"]);
    expect((await failure(client.jobs.get("dj-no-such-job"))).status).toBe(404);
  });
});

describe("conversations", () => {
  test("upsert (created, then updated), get, list, history, delete", async () => {
    const { client } = await newClient();
    const created = await client.conversations.upsert({ tenant_id: "app", conversation_id: "support", title: "Support" });
    expect(created).toEqual({
      tenant_id: "app",
      conversation_id: "support",
      title: "Support",
      metadata: null,
      message_count: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      last_message_at: null,
    });
    const updated = await client.conversations.upsert({ tenant_id: "app", conversation_id: "support", metadata: { channel: "email" } });
    expect(updated).toMatchObject({ title: "Support", metadata: { channel: "email" } });
    await client.messages.storeBatch([input("hello", { conversation_id: "support" }), input("how can I help", { conversation_id: "support", role: "assistant" })]);
    await client.conversations.upsert({ tenant_id: "app", conversation_id: "sales" });

    expect(await client.conversations.get("support", { tenant_id: "app" })).toMatchObject({ conversation_id: "support", message_count: 2 });
    expect(await client.conversations.get("support")).toMatchObject({ conversation_id: "support" });
    const list = await client.conversations.list({ tenant_id: "app", limit: 10 });
    expect({ ids: list.conversations.map((c) => c.conversation_id).sort(), total: list.total, limit: list.limit, offset: list.offset }).toEqual({
      ids: ["sales", "support"],
      total: 2,
      limit: 10,
      offset: 0,
    });
    const history = await client.conversations.history("support", { tenant_id: "app", limit: 1, offset: 1 });
    expect({ contents: history.messages.map((m) => m.content), total: history.total }).toEqual({ contents: ["how can I help"], total: 2 });

    await client.conversations.delete("support", { tenant_id: "app" });
    expect((await failure(client.conversations.get("support", { tenant_id: "app" }))).status).toBe(404);
    expect((await client.conversations.list({ tenant_id: "app" })).total).toBe(1);
  });
});

describe("search and reindex", () => {
  test("search (POST, with filters and explain); reindex queues the tenant again", async () => {
    const { client } = await newClient();
    const { created } = await client.messages.storeBatch([
      input("My favourite food is spicy Thai curry", { importance: 0.9 }),
      input("The weather in Lisbon was sunny yesterday", { role: "assistant" }),
      input("I am learning to play the cello", { conversation_id: "music" }),
    ]);
    await client.messages.waitForIndexed(created);
    const { results } = await client.search({ tenant_id: "app", query: "what food do they like", top_k: 2, explain: true });
    expect(results[0]).toMatchObject({ id: created[0].id, content: "My favourite food is spicy Thai curry", tenant_id: "app", importance: 0.9 });
    expect(Object.keys(results[0].explain ?? {})).toEqual(["semantic", "keyword", "recency", "importance"]);
    const onlyMusic = await client.search({ tenant_id: "app", query: "instrument", conversation_id: "music", role: ["user"], mode: "semantic" });
    expect(onlyMusic.results.map((r) => r.id)).toEqual([created[2].id]);
    const withContext = await client.search({ tenant_id: "app", query: "Lisbon weather", mode: "keyword", context: 1 });
    expect(withContext.results[0]).toMatchObject({ id: created[1].id, context: { before: [{ id: created[0].id }], after: [] } });

    expect(await client.reindex({ tenant_id: "app", mode: "all" })).toEqual({ queued: 3 });
    await eventually("the reindexed messages indexed", async () => (await client.tenants.get("app")).indexed === 3);
    expect((await client.messages.waitForIndexed(created)).map((m) => m.status)).toEqual(["indexed", "indexed", "indexed"]);
  });
});

describe("tenants", () => {
  test("list (pages), get, retention policy, erase (a job)", async () => {
    const { client } = await newClient();
    for (const tenant of ["alpha", "beta", "gamma"]) await client.messages.store({ ...input(`hello ${tenant}`), tenant_id: tenant });
    const page = await client.tenants.list({ limit: 2 });
    expect({ ids: page.tenants.map((t) => t.tenant_id), more: typeof page.next_cursor }).toEqual({ ids: ["alpha", "beta"], more: "string" });
    expect((await collect(client.tenants.listAll({ limit: 2 }))).map((t) => t.tenant_id)).toEqual(["alpha", "beta", "gamma"]);
    await eventually("alpha indexed", async () => (await client.tenants.get("alpha")).pending === 0);
    expect(await client.tenants.get("alpha")).toEqual({ tenant_id: "alpha", messages: 1, conversations: 1, pending: 0, indexed: 1, failed: 0, retention_days: null });

    expect(await client.tenants.getPolicy("alpha")).toEqual({ tenant_id: "alpha", retention_days: null, updated_at: null });
    expect(await client.tenants.setPolicy("alpha", { retention_days: 90 })).toEqual({ tenant_id: "alpha", retention_days: 90, updated_at: expect.any(String) });
    expect((await client.tenants.getPolicy("alpha")).retention_days).toBe(90);
    expect((await client.tenants.setPolicy("alpha", { retention_days: null })).retention_days).toBeNull();

    const job = await client.tenants.erase("beta");
    expect(job).toMatchObject({ kind: "erase_tenant", tenant_id: "beta", filter: null });
    expect(await client.jobs.waitForJob(job.id)).toMatchObject({ status: "completed", deleted: 1 });
    expect(await client.tenants.get("beta")).toMatchObject({ messages: 0, conversations: 0 });
  });

  test("export as parsed lines (with vectors), import from lines, an async iterable and a stream", async () => {
    const { client } = await newClient();
    await client.conversations.upsert({ tenant_id: "src", conversation_id: "chat", title: "Chat" });
    const { created } = await client.messages.storeBatch([
      { ...input("first exported message"), tenant_id: "src" },
      { ...input("second exported message"), tenant_id: "src", metadata: { n: 2 } },
    ]);
    await client.messages.waitForIndexed(created);

    const lines: ExportLine[] = await collect(client.tenants.export("src", { includeVectors: true }));
    expect(lines.map((l) => l.type)).toEqual(["conversation", "message", "message"]);
    expect(structuredClone(lines[0])).toMatchObject({ type: "conversation", conversation_id: "chat", title: "Chat", last_activity_ms: expect.any(Number) });
    expect(structuredClone(lines[1])).toMatchObject({ type: "message", id: created[0].id, content: "first exported message", vector: expect.any(String), vector_model: expect.any(String) });
    const plain = await collect(client.tenants.export("src"));
    expect(plain.map((l) => ("vector" in l ? "vector" : l.type))).toEqual(["conversation", "message", "message"]);

    // Into another account's tenant of the same name, from the lines as they were exported (an array:
    // sent whole); vectors of the server's model need no embedding.
    const { client: second } = await newClient();
    const fromLines = await second.tenants.import("src", lines);
    expect(fromLines).toEqual({ lines: 3, imported: 2, with_vectors: 2, unchanged: 0, conversations: 1, rejected: 0, errors: [] });
    expect(await second.tenants.get("src")).toMatchObject({ messages: 2, indexed: 2, pending: 0 });
    expect((await second.messages.get(created[1].id)).metadata).toEqual({ n: 2 });
    expect(await second.tenants.import("src", lines)).toMatchObject({ imported: 0, unchanged: 2 });

    // An async iterable of lines, text and objects, one of them bad (streamed: each line as it is read).
    async function* generated(): AsyncGenerator<string | ImportLine> {
      yield JSON.stringify({ type: "message", id: "g1", conversation_id: "gen", role: "user", content: "generated one" });
      yield { conversation_id: "gen", role: "assistant", content: "generated two", id: "g2" };
      yield "{not json";
    }
    const fromGenerator = await client.tenants.import("generated", generated());
    expect(fromGenerator).toMatchObject({ lines: 3, imported: 2, with_vectors: 0, rejected: 1, errors: [{ line: 3, message: expect.any(String) }] });
    await client.messages.waitForIndexed(["g1", "g2"]);

    // An export stream piped as it is into a third account.
    const { client: third } = await newClient();
    const fromStream = await third.tenants.import("src", await client.tenants.exportStream("src", { includeVectors: true }));
    expect(fromStream).toMatchObject({ lines: 3, imported: 2, with_vectors: 2, conversations: 1 });

    // Leaving the loop early cancels the download.
    let seen = 0;
    for await (const _line of client.tenants.export("src")) if (++seen === 1) break;
    expect(seen).toBe(1);
  });
});

describe("webhooks", () => {
  test("create (secret shown once), list, get, update, test, deliveries (pages), retry a delivery, rotate the secret, delete", async () => {
    const { client } = await newClient();
    const receiver = startReceiver();
    h.cleanup(() => receiver.stop());
    const created = await client.webhooks.create({ url: receiver.url, events: ["message.indexed"], description: "search sync" });
    const { secret, ...webhook } = created;
    expect(created).toEqual({
      id: expect.any(String),
      url: receiver.url,
      events: ["message.indexed"],
      tenant_ids: null,
      enabled: true,
      description: "search sync",
      disabled_reason: null,
      consecutive_failures: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_/),
    });
    expect(await client.webhooks.list()).toEqual({ webhooks: [webhook] });
    expect(await client.webhooks.get(webhook.id)).toEqual(webhook);
    const updated = await client.webhooks.update(webhook.id, { events: ["message.indexed", "message.deleted"], tenant_ids: ["app"] });
    expect({ events: updated.events, tenant_ids: updated.tenant_ids }).toEqual({ events: ["message.indexed", "message.deleted"], tenant_ids: ["app"] });

    const probe = await client.webhooks.test(webhook.id);
    expect({ event_type: probe.event_type, status: probe.status }).toEqual({ event_type: "webhook.test", status: "pending" });
    const stored = await client.messages.store(input("delivered to the webhook"));
    await eventually("both delivered", () => receiver.received.some((r) => r.type === "webhook.test") && receiver.received.some((r) => r.type === "message.indexed"));
    await eventually("both logged as succeeded", async () => {
      const { deliveries } = await client.webhooks.deliveries(webhook.id);
      return deliveries.length === 2 && deliveries.every((d) => d.status === "succeeded");
    });
    const firstPage = await client.webhooks.deliveries(webhook.id, { limit: 1 });
    expect({ count: firstPage.deliveries.length, more: typeof firstPage.next_cursor }).toEqual({ count: 1, more: "string" });
    const all = await collect(client.webhooks.allDeliveries(webhook.id, { limit: 1 }));
    expect(all.map((d) => [d.event_type, d.status, d.response_status])).toEqual([
      ["message.indexed", "succeeded", 204],
      ["webhook.test", "succeeded", 204],
    ]);
    expect(receiver.received.find((r) => r.type === "message.indexed")?.data.message.id).toBe(stored.id);

    const again = await client.webhooks.retryDelivery(webhook.id, probe.id);
    expect({ id: again.id, status: again.status }).toEqual({ id: probe.id, status: "pending" });
    await eventually("delivered again, same webhook-id", () => receiver.received.filter((r) => r.id === probe.id).length === 2);

    const rotated = await client.webhooks.rotateSecret(webhook.id);
    expect(rotated).toEqual({ secret: expect.stringMatching(/^whsec_/), previous_valid_until: expect.any(String) });
    expect(rotated.secret).not.toBe(secret);

    await client.webhooks.delete(webhook.id);
    expect((await failure(client.webhooks.get(webhook.id))).status).toBe(404);
    expect(await client.webhooks.list()).toEqual({ webhooks: [] });
  });
});
