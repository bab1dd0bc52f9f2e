import { beforeAll, describe, expect, test } from "bun:test";
import type { Cluster } from "ioredis";
import { createApp } from "../../src/app";
import { markFailed } from "../../src/memory/indexing";
import { sweepOutbox } from "../../src/memory/outbox";
import { sweepExpired } from "../../src/messages/expiry";
import { keys, slotOf } from "../../src/store/keys";
import { Script } from "../../src/store/script";
import { eventually, useHarness } from "../helpers/app";
import { masterOf as masterOfKey } from "../helpers/cluster";
import { listen } from "../helpers/processes";
import { startReceiver } from "../helpers/receiver";

/**
 * The service on a real 3-master Redis Cluster (exact engine): ingest, indexing, search, realtime,
 * auth and rate limits, each Lua script and transaction run at least once. A script or MULTI whose
 * keys spanned slots would fail here with CROSSSLOT.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10", VECTOR_ENGINE: "exact", WEBHOOK_ALLOW_PRIVATE: "true" }, { cluster: { masters: 3 }, worker: true, realtime: true });
let base: string;

beforeAll(() => {
  const server = createApp(h.deps, h.realtime).listen({ port: 0, hostname: "127.0.0.1" });
  base = `127.0.0.1:${server.server?.port}`;
  h.cleanup(() => server.stop(true));
});

const masterOf = (key: string) => masterOfKey(h.deps.redis as Cluster, key);

const store = (token: string, tenant: string, content: string, conversation = "c") =>
  h.json("POST", "/v1/messages", { token, body: { tenant_id: tenant, conversation_id: conversation, role: "user", content } });
const statusOf = async (token: string, id: string) => (await h.json("GET", `/v1/messages/${id}`, { token })).body.status;

describe("on a Redis Cluster", () => {
  test("the keyspace's hash tags are Redis's own slots", async () => {
    const cluster = h.deps.redis as Cluster;
    const key = keys.message("usr_example", "m1");
    const tag = key.slice(key.indexOf("{") + 1, key.indexOf("}"));
    expect(Number(await cluster.call("CLUSTER", "KEYSLOT", key))).toBe(slotOf(tag));
  });

  test("two accounts on different masters both store, index, search and stream their own messages", async () => {
    const first = await h.account("first");
    let second = await h.account("second");
    for (let i = 0; (await masterOf(keys.tenants(second.userId))) === (await masterOf(keys.tenants(first.userId))); i++) {
      if (i > 20) throw new Error("no two accounts on different masters");
      second = await h.account("second");
    }
    const sockets = await Promise.all([first, second].map((a) => listen(base, "/ws/messages/t", { authorization: `Bearer ${a.token}` })));
    const mine = await store(first.token, "t", "the lighthouse keeper painted the door blue");
    const theirs = await store(second.token, "t", "the orchard harvest starts in late September");
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    await eventually("both indexed", async () => (await statusOf(first.token, mine.body.id)) === "indexed" && (await statusOf(second.token, theirs.body.id)) === "indexed", 60_000);
    expect(await masterOf(keys.message(first.userId, mine.body.id))).not.toBe(await masterOf(keys.message(second.userId, theirs.body.id)));

    const search = await h.json("GET", "/v1/memory/search?tenant_id=t&query=what%20colour%20is%20the%20door", { token: first.token });
    expect(search.body.results.map((r: { id: string }) => r.id)).toEqual([mine.body.id]);
    const other = await h.json("GET", "/v1/memory/search?tenant_id=t&query=harvest&mode=keyword", { token: second.token });
    expect(other.body.results.map((r: { id: string }) => r.id)).toEqual([theirs.body.id]);
    // Each socket hears created then indexed for its own account only, over sharded pub/sub.
    for (const [i, id] of [mine.body.id, theirs.body.id].entries()) {
      await eventually("indexed event", () => sockets[i].events.some((e) => e.type === "message.indexed" && e.message.id === id));
      expect(sockets[i].events.every((e) => e.message.id === id)).toBe(true);
      sockets[i].socket.close();
    }
  }, 90_000);

  test("auth, rate limits, deletion, reindex, sweeping and account erasure run every script and transaction in one slot", async () => {
    // Auth: register, login (with a wrong password first: backoff and email counters), refresh, logout.
    const user = await h.account("scripts");
    expect((await h.json("POST", "/v1/auth/login", { body: { email: user.email, password: "WrongPass123" } })).status).toBe(401);
    const refreshed = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: user.refresh } });
    expect(refreshed.status).toBe(200);
    expect((await h.json("POST", "/v1/auth/logout", { body: { refresh_token: refreshed.body.refresh_token } })).status).toBe(204);
    // API keys: create, use (per-key and per-account budgets), revoke.
    const created = await h.json("POST", "/v1/auth/api-keys", { token: user.token, body: { name: "k" } });
    expect(created.status).toBe(201);
    expect((await h.json("GET", "/v1/conversations?tenant_id=t", { apiKey: created.body.key })).status).toBe(200);
    expect((await h.request("DELETE", `/v1/auth/api-keys/${created.body.id}`, { token: user.token })).status).toBe(204);
    // Rate limits: an app with a budget of 3 refuses the 4th request.
    const limited = createApp({ ...h.deps, config: { ...h.deps.config, RATE_LIMIT_REQUESTS: 3, RATE_LIMIT_WINDOW_S: 3600 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await limited.handle(new Request("http://localhost/v1/conversations?tenant_id=t", { headers: { authorization: `Bearer ${user.token}` } }));
      statuses.push(res.status);
    }
    expect(statuses.slice(-1)).toEqual([429]);

    // Messages: a batch, a conversation, a deletion, a reindex, a failure, a sweep.
    const batch = await h.json("POST", "/v1/messages/batch", {
      token: user.token,
      body: { messages: ["one", "two", "three"].map((content) => ({ tenant_id: "s", conversation_id: "chat", role: "user", content: `message ${content}` })) },
    });
    expect(batch.status).toBe(202);
    const ids = batch.body.created.map((m: { id: string }) => m.id);
    await eventually("batch indexed", async () => (await Promise.all(ids.map((id: string) => statusOf(user.token, id)))).every((s) => s === "indexed"), 60_000);
    expect((await h.json("POST", "/v1/conversations", { token: user.token, body: { tenant_id: "s", conversation_id: "titled", title: "A title" } })).status).toBeLessThan(300);
    expect((await h.request("DELETE", `/v1/messages/${ids[0]}`, { token: user.token })).status).toBe(204);
    expect((await h.json("POST", "/v1/memory/reindex", { token: user.token, body: { tenant_id: "s", mode: "all" } })).body).toEqual({ queued: 2 });
    await eventually("reindexed", async () => (await Promise.all(ids.slice(1).map((id: string) => statusOf(user.token, id)))).every((s) => s === "indexed"), 60_000);
    expect(await markFailed(h.deps, { account: user.userId, ids: [ids[1]] }, "failed on purpose")).toBe(0);
    expect(await sweepOutbox(h.deps, "cluster-test", Date.now() + 3_600_000)).toBe(0);
    expect((await h.request("DELETE", "/v1/conversations/chat?tenant_id=s", { token: user.token })).status).toBe(204);

    // Webhooks: events logged and delivered from the account's shard; a 410 disables the endpoint.
    const receiver = startReceiver();
    h.cleanup(() => receiver.stop());
    receiver.answer = (x) => new Response(null, { status: x.type === "message.created" ? 200 : 410 });
    const hook = await h.json("POST", "/v1/webhooks", { token: user.token, body: { url: receiver.url, events: ["message.created", "message.indexed"] } });
    expect(hook.status).toBe(201);

    // Data lifecycle: update, list, counts, expiry and retention sweeps, a delete job, export, import, erase.
    const life = await h.json("POST", "/v1/messages/batch", {
      token: user.token,
      body: { messages: ["alpha", "beta", "gamma"].map((content, i) => ({ tenant_id: "life", conversation_id: "c", role: "user", content, ...(i === 2 ? { ttl_seconds: 1 } : {}) })) },
    });
    const lifeIds = life.body.created.map((m: { id: string }) => m.id);
    await eventually("life indexed", async () => (await h.json("GET", "/v1/tenants/life", { token: user.token })).body.indexed === 3, 60_000);
    expect((await h.json("PATCH", `/v1/messages/${lifeIds[0]}`, { token: user.token, body: { metadata: { k: 1 }, importance: 0.9 } })).status).toBe(200);
    expect((await h.json("PATCH", `/v1/messages/${lifeIds[0]}`, { token: user.token, body: { content: "alpha again" } })).status).toBe(200);
    expect((await h.json("GET", "/v1/messages?tenant_id=life&limit=1", { token: user.token })).body.next_cursor).toEqual(expect.any(String));
    expect((await h.json("PUT", "/v1/tenants/life/policy", { token: user.token, body: { retention_days: 1 } })).status).toBe(200);
    expect(await sweepExpired(h.deps, "cluster-test", 1000, Date.now() + 2 * 86_400_000)).toBe(3);
    const imported = await h.app.handle(
      new Request("http://localhost/v1/tenants/life/import", {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/x-ndjson" },
        body: [
          JSON.stringify({ type: "conversation", conversation_id: "c", title: "imported" }),
          JSON.stringify({ id: "v", conversation_id: "c", role: "user", content: "with a vector", vector: Buffer.alloc(h.deps.embedder.dimensions * 4).toString("base64"), vector_model: h.deps.embedder.modelKey }),
          JSON.stringify({ id: "p", conversation_id: "c", role: "user", content: "to be embedded" }),
        ].join("\n"),
      }),
    );
    expect(await imported.json()).toMatchObject({ imported: 2, with_vectors: 1, conversations: 1 });
    expect((await h.request("GET", "/v1/tenants/life/export?include_vectors=true", { token: user.token })).status).toBe(200);
    const job = await h.json("POST", "/v1/messages/delete", { token: user.token, body: { tenant_id: "life", conversation_id: "c" } });
    await eventually("delete job done", async () => (await h.json("GET", `/v1/jobs/${job.body.id}`, { token: user.token })).body.status === "completed", 60_000);
    await eventually("webhook deliveries", () => receiver.received.some((x) => x.type === "message.created") && receiver.received.some((x) => x.type === "message.indexed"), 60_000);
    await eventually("disabled by its 410", async () => (await h.json("GET", `/v1/webhooks/${hook.body.id}`, { token: user.token })).body.enabled === false, 60_000);
    const erase = await h.json("DELETE", "/v1/tenants/life", { token: user.token });
    await eventually("erase job done", async () => (await h.json("GET", `/v1/jobs/${erase.body.id}`, { token: user.token })).body.status === "completed", 60_000);

    // Erasing the account walks every master.
    expect((await h.request("DELETE", "/v1/auth/me", { token: user.token, body: { password: "SecurePass123" } })).status).toBe(204);
    expect((await h.json("GET", "/v1/auth/me", { token: user.token })).status).toBe(401);

    const notRun = [...Script.all].filter((s) => !s.ran).map((s) => s.source.trim().split("\n").slice(0, 2).join(" "));
    expect(notRun).toEqual([]);
  }, 120_000);
});
