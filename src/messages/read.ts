import { assertTenant, canSeeTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { notFound } from "../errors";
import { keys } from "../store/keys";
import { retentionCutoff } from "../tenants/policy";
import { isLive, type Message, toMessage } from "./model";

/**
 * The caller's message, or 404 (also when an API key may not see its tenant: it learns nothing,
 * and when the message has expired, even before the sweeper removes it).
 */
export async function getMessage(deps: Pick<Deps, "redis">, principal: Principal, id: string): Promise<Message> {
  const row = await deps.redis.hgetall(keys.message(principal.account, id));
  if (!row.id || !canSeeTenant(principal, row.tenant_id)) throw notFound("Message");
  assertTenant(principal, row.tenant_id, "read");
  const now = Date.now();
  if (!isLive(row, now, await retentionCutoff(deps.redis, principal.account, row.tenant_id, now))) throw notFound("Message");
  return toMessage(row);
}

export interface LoadOptions {
  /** the tenant's retention cutoff (ms): older messages are left out */
  cutoffMs?: number;
  /** also messages past their expiry (indexing, deletion): what is stored, not what may be shown */
  includeExpired?: boolean;
}

/** Loads stored messages by id, in order, skipping ones that no longer exist or have expired. */
export async function loadMessages(deps: Pick<Deps, "redis">, account: string, ids: string[], options: LoadOptions = {}): Promise<Message[]> {
  const rows = await loadRows(deps, account, ids);
  const now = Date.now();
  return rows.filter((r) => r.id && (options.includeExpired || isLive(r, now, options.cutoffMs))).map(toMessage);
}

/** The stored hashes of messages by id, in order (empty objects for ones that do not exist). */
export function loadRows(deps: Pick<Deps, "redis">, account: string, ids: string[]): Promise<Record<string, string>[]> {
  return Promise.all(ids.map((id) => deps.redis.hgetall(keys.message(account, id))));
}
