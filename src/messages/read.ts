import { assertTenant, canSeeTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { notFound } from "../errors";
import { keys } from "../store/keys";
import { type Message, toMessage } from "./model";

/** The caller's message, or 404 (also when an API key may not see its tenant: it learns nothing). */
export async function getMessage(deps: Pick<Deps, "redis">, principal: Principal, id: string): Promise<Message> {
  const row = await deps.redis.hgetall(keys.message(principal.account, id));
  if (!row.id || !canSeeTenant(principal, row.tenant_id)) throw notFound("Message");
  assertTenant(principal, row.tenant_id, "read");
  return toMessage(row);
}

/** Loads stored messages by id, in order, skipping ones that no longer exist. */
export async function loadMessages(deps: Pick<Deps, "redis">, account: string, ids: string[]): Promise<Message[]> {
  const rows = await Promise.all(ids.map((id) => deps.redis.hgetall(keys.message(account, id))));
  return rows.filter((r) => r.id).map(toMessage);
}
