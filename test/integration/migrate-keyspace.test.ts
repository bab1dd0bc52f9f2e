import { describe, expect, test } from "bun:test";
import { startIndexingWorker } from "../../src/memory/worker";
import { allShards, keys } from "../../src/store/keys";
import { migrateKeyspace, rebuildTenantIndexes } from "../../src/store/migrate-keyspace";
import { scanKeys } from "../../src/store/redis";
import { eventually, useHarness } from "../helpers/app";

/**
 * A deployment from before shards: data made by the service, then put back under the names the
 * previous version used (the inverse of the migration, written out here), migrated, and used.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10", OUTBOX_REDRIVE_MS: "1000", VECTOR_ENGINE: "exact" });

/** The previous version's name of a key of the current layout. */
function previousName(key: string): string {
  const vec = /^mm:vec:([^:]+):\{[^}]+\}:(.*)$/.exec(key);
  if (vec) return `mm:vec:${vec[1]}:${vec[2]}`;
  const tagged = /^mm:\{[^}]+\}:(.*)$/.exec(key);
  return tagged ? `mm:${tagged[1]}` : key;
}

async function toPreviousLayout(): Promise<void> {
  const { redis } = h.deps;
  for (const k of allShards()) {
    const outbox = await redis.zrange(keys.outbox(k), "0", "-1", "WITHSCORES");
    for (let i = 0; i < outbox.length; i += 2) await redis.zadd("mm:outbox", outbox[i + 1], outbox[i]);
    for (const member of await redis.lrange(keys.dispatch(k), 0, -1)) await redis.rpush("mm:dispatch", member);
    for (const [field, value] of Object.entries(await redis.hgetall(keys.stats(k)))) await redis.hincrby("mm:stats", field, Number(value));
    await redis.del(keys.outbox(k), keys.dispatch(k), keys.stats(k));
  }
  const current: string[] = [];
  for await (const found of scanKeys(redis, "mm:*")) current.push(...found);
  for (const key of current) {
    // (tenant time indexes and counts by status came later still: the migration builds them)
    if (/:(bull|rate|refresh|tmsgs|tstats):/.test(key) || key.includes(":refresh")) await redis.del(key);
    else if (previousName(key) !== key) await redis.rename(key, previousName(key));
  }
}

const previousLayoutKeys = async () => {
  const found: string[] = [];
  for (const pattern of ["mm:msg:*", "mm:user:*", "mm:api-key:*", "mm:vecx:*", "mm:conv-msgs:*", "mm:outbox", "mm:stats"]) {
    for await (const keysFound of scanKeys(h.deps.redis, pattern)) found.push(...keysFound);
  }
  return found;
};

describe("bun run migrate-keyspace", () => {
  test("moves a deployment of the previous layout to the sharded one; every account, key and message works after; a re-run changes nothing", async () => {
    const { token, email } = await h.account("veteran");
    const apiKey = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "k" } })).body.key;
    const indexedWorker = startIndexingWorker(h.deps);
    const indexed = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "t", conversation_id: "c", role: "user", content: "the lighthouse door was painted blue" } });
    await eventually("indexed", async () => (await h.json("GET", `/v1/messages/${indexed.body.id}`, { token })).body.status === "indexed", 60_000);
    await indexedWorker.close();
    // Accepted while no worker ran: pending, in the outbox and the dispatch list.
    const pending = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "t", conversation_id: "c", role: "user", content: "the orchard harvest starts in September" } });

    await toPreviousLayout();
    expect((await previousLayoutKeys()).length).toBeGreaterThan(5);
    const report = await migrateKeyspace(h.deps.redis);
    expect(report).toMatchObject({ conflicts: 0, outbox: 1, dispatch: 1 });
    expect(report.renamed).toBeGreaterThan(5);
    expect(await previousLayoutKeys()).toEqual([]);
    expect(await migrateKeyspace(h.deps.redis)).toEqual({ renamed: 0, conflicts: 0, dropped: 0, outbox: 0, dispatch: 0 });
    expect(await rebuildTenantIndexes(h.deps.redis)).toEqual({ tenants: 1, messages: 2 });
    expect(await rebuildTenantIndexes(h.deps.redis)).toEqual({ tenants: 1, messages: 2 });

    // Users sign in again (refresh tokens were dropped); passwords, API keys and data are all there.
    const login = await h.json("POST", "/v1/auth/login", { body: { email, password: "SecurePass123" } });
    expect(login.status).toBe(200);
    const fresh = login.body.access_token;
    expect((await h.json("GET", `/v1/messages/${indexed.body.id}`, { apiKey })).body).toMatchObject({ id: indexed.body.id, status: "indexed" });
    const history = await h.json("GET", "/v1/conversations/c/messages?tenant_id=t", { token: fresh });
    expect(history.body.messages.map((m: { id: string }) => m.id)).toEqual([indexed.body.id, pending.body.id]);
    const search = await h.json("GET", "/v1/memory/search?tenant_id=t&query=what%20colour%20was%20the%20door", { token: fresh });
    expect(search.body.results[0].id).toBe(indexed.body.id);
    expect((await h.json("GET", "/v1/tenants/t", { token: fresh })).body).toMatchObject({ messages: 2, conversations: 1, pending: 1, indexed: 1 });
    const listed = await h.json("GET", "/v1/messages?tenant_id=t&order=oldest", { token: fresh });
    expect(listed.body.messages.map((m: { id: string }) => m.id)).toEqual([indexed.body.id, pending.body.id]);
    // The pending message is dispatched and indexed by a worker of the new version.
    const worker = startIndexingWorker(h.deps);
    try {
      await eventually("pending indexed", async () => (await h.json("GET", `/v1/messages/${pending.body.id}`, { token: fresh })).body.status === "indexed", 60_000);
      expect((await h.json("GET", "/v1/tenants/t", { token: fresh })).body).toMatchObject({ pending: 0, indexed: 2 });
    } finally {
      await worker.close();
    }
  }, 120_000);
});
