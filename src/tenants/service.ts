import { assertTenant, canSeeTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { invalidCursor } from "../errors";
import { keys } from "../store/keys";
import type { TenantSummary } from "./model";
import { readPolicy, type RetentionPolicy, writePolicy } from "./policy";

/** A tenant's counts, read in one pipelined round trip. */
async function summarise(deps: Pick<Deps, "redis">, account: string, tenants: string[]): Promise<TenantSummary[]> {
  const pipeline = deps.redis.pipeline();
  for (const tenant of tenants) {
    pipeline.zcard(keys.tenantMessages(account, tenant));
    pipeline.zcard(keys.conversations(account, tenant));
    pipeline.hmget(keys.tenantStats(account, tenant), "pending", "indexed", "failed");
    pipeline.hget(keys.tenantPolicy(account, tenant), "retention_days");
  }
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  return tenants.map((tenant, i) => {
    const [messages, conversations, counts, days] = replies.slice(i * 4, i * 4 + 4).map(([, value]) => value);
    const [pending, indexed, failed] = (counts as (string | null)[]).map((n) => Math.max(0, Number(n ?? 0)));
    return { tenant_id: tenant, messages: Number(messages), conversations: Number(conversations), pending, indexed, failed, retention_days: days ? Number(days) : null };
  });
}

/**
 * The caller's tenants (an API key sees those it may use) by id, with their counts, a page at a
 * time; the cursor is the last tenant id of the page.
 */
export async function listTenants(deps: Pick<Deps, "redis">, principal: Principal, limit: number, cursor?: string) {
  // The cursor is the last tenant id, base64url: anything that does not encode back to itself was not made here.
  const after = cursor === undefined ? undefined : Buffer.from(cursor, "base64url").toString("utf8");
  if (cursor !== undefined && (!after?.isWellFormed() || Buffer.from(after).toString("base64url") !== cursor)) throw invalidCursor();
  const all = (await deps.redis.smembers(keys.tenants(principal.account))).filter((t) => canSeeTenant(principal, t)).sort();
  const from = after === undefined ? 0 : all.findIndex((t) => t > after);
  const page = from < 0 ? [] : all.slice(from, from + limit);
  const more = from >= 0 && from + limit < all.length;
  return { tenants: await summarise(deps, principal.account, page), next_cursor: more ? Buffer.from(page[page.length - 1]).toString("base64url") : null };
}

export async function getTenant(deps: Pick<Deps, "redis">, principal: Principal, tenant: string): Promise<TenantSummary> {
  assertTenant(principal, tenant, "read");
  return (await summarise(deps, principal.account, [tenant]))[0];
}

export async function getPolicy(deps: Pick<Deps, "redis">, principal: Principal, tenant: string): Promise<RetentionPolicy & { tenant_id: string }> {
  assertTenant(principal, tenant, "read");
  return { tenant_id: tenant, ...(await readPolicy(deps.redis, principal.account, tenant)) };
}

export async function setPolicy(deps: Pick<Deps, "redis">, principal: Principal, tenant: string, days: number | null): Promise<RetentionPolicy & { tenant_id: string }> {
  assertTenant(principal, tenant, "write");
  return { tenant_id: tenant, ...(await writePolicy(deps.redis, principal.account, tenant, days)) };
}
