import type { Deps } from "../deps";
import { allShards, keys, outboxMember, parseOutboxMember, parseTenantMember } from "../store/keys";
import { cutoffOf } from "../tenants/policy";
import { loadMessages } from "./read";
import { removeMessages } from "./remove";

/** Messages removed per round, and rounds per shard per sweep: bounded work, small commands. */
const BATCH = 200;
const ROUNDS = 10;

/**
 * Removes expired messages: those past their own expiry (ttl_seconds / expires_at) and those older
 * than their tenant's retention, each with its vector and conversation entries, and sends
 * `message.deleted` with the reason (`expired`, `retention`). Reads already hide them; this frees
 * the memory. One worker sweeps a shard at a time (a short lock). Returns how many went.
 */
export async function sweepExpired(deps: Pick<Deps, "redis" | "vectors">, workerId: string, lockMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const k of allShards()) {
    if (!(await deps.redis.set(keys.expiryLock(k), workerId, "PX", lockMs, "NX"))) continue;
    removed += await sweepOwnExpiries(deps, k, now);
    removed += await sweepRetention(deps, k, now);
  }
  return removed;
}

async function sweepOwnExpiries(deps: Pick<Deps, "redis" | "vectors">, shardNo: number, now: number): Promise<number> {
  const { redis } = deps;
  let removed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const members = await redis.zrangebyscore(keys.expiries(shardNo), "-inf", now, "LIMIT", 0, BATCH);
    if (members.length === 0) break;
    const byAccount = new Map<string, string[]>();
    for (const { account, messageId } of members.map(parseOutboxMember)) byAccount.set(account, [...(byAccount.get(account) ?? []), messageId]);
    const gone: string[] = [];
    for (const [account, ids] of byAccount) {
      const messages = await loadMessages(deps, account, ids, { includeExpired: true });
      // Removing takes the entry with it; an expiry pushed back or cleared meanwhile moved or took it already.
      removed += await removeMessages(deps, account, messages, { reason: "expired", expiredBy: now });
      const found = new Set(messages.map((m) => m.id));
      gone.push(...ids.filter((id) => !found.has(id)).map((id) => outboxMember(account, id)));
    }
    if (gone.length > 0) await redis.zrem(keys.expiries(shardNo), ...gone);
    if (members.length < BATCH) break;
  }
  return removed;
}

async function sweepRetention(deps: Pick<Deps, "redis" | "vectors">, shardNo: number, now: number): Promise<number> {
  const { redis } = deps;
  let removed = 0;
  for (const member of await redis.smembers(keys.retentionTenants(shardNo))) {
    const { account, tenant } = parseTenantMember(member);
    const cutoff = cutoffOf(await redis.hget(keys.tenantPolicy(account, tenant), "retention_days"), now);
    if (cutoff === undefined) {
      await redis.srem(keys.retentionTenants(shardNo), member);
      continue;
    }
    const index = keys.tenantMessages(account, tenant);
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await redis.zrangebyscore(index, "-inf", `(${cutoff * 1000}`, "LIMIT", 0, BATCH);
      if (ids.length === 0) break;
      const messages = await loadMessages(deps, account, ids, { includeExpired: true });
      removed += await removeMessages(deps, account, messages, { reason: "retention" });
      const gone = ids.filter((id) => !messages.some((m) => m.id === id));
      if (gone.length > 0) await redis.zrem(index, ...gone);
      if (ids.length < BATCH) break;
    }
  }
  return removed;
}
