import { assertTenant, canSeeTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { conflict, notFound } from "../errors";
import { loadMessages } from "../messages/read";
import { removeMessages } from "../messages/remove";
import { keys } from "../store/keys";
import { Script } from "../store/script";
import { emitEvent } from "../events/emit";
import { retentionCutoff } from "../tenants/policy";
import { type Conversation, toConversation } from "./model";

/** What the conversation services use (removing a conversation removes its vectors too). */
export type ConversationDeps = Pick<Deps, "redis" | "vectors">;

/** Creates a conversation (1) or updates the given title/metadata of an existing one (0). */
const UPSERT = new Script(`
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'tenant_id', ARGV[1], 'conversation_id', ARGV[2], 'title', '', 'metadata', 'null',
    'message_count', 0, 'created_at', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
  created = 1
end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'title', ARGV[6]) end
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'metadata', ARGV[8]) end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
return created
`);

const REMOVAL_CHUNK = 500;

export async function upsertConversation(
  deps: ConversationDeps,
  principal: Principal,
  input: { tenant: string; conversation: string; title?: string; metadata?: Record<string, unknown> },
): Promise<{ created: boolean; conversation: Conversation }> {
  assertTenant(principal, input.tenant, "write");
  const { account } = principal;
  const now = Date.now();
  const key = keys.conversation(account, input.tenant, input.conversation);
  const created = await UPSERT.run<number>(
    deps.redis,
    [key, keys.conversations(account, input.tenant), keys.conversationTenants(account, input.conversation), keys.tenants(account)],
    [
      input.tenant, input.conversation, new Date(now).toISOString(), now,
      input.title === undefined ? "0" : "1", input.title ?? "",
      input.metadata === undefined ? "0" : "1", JSON.stringify(input.metadata ?? null),
    ],
  );
  return { created: created === 1, conversation: toConversation(await deps.redis.hgetall(key)) };
}

/**
 * Which tenant a conversation id means: the given one, or the only tenant of the caller's that
 * has it. Several: 409 listing them. None: 404.
 */
export async function resolveTenant(deps: ConversationDeps, principal: Principal, conversation: string, tenant?: string): Promise<string> {
  if (tenant !== undefined) {
    assertTenant(principal, tenant, "read");
    return tenant;
  }
  const tenants = (await deps.redis.smembers(keys.conversationTenants(principal.account, conversation)))
    .filter((t) => canSeeTenant(principal, t))
    .sort();
  if (tenants.length === 0) throw notFound("Conversation");
  if (tenants.length > 1)
    throw conflict("ambiguous_conversation", "This conversation id exists in several tenants; pass tenant_id", { tenant_ids: tenants });
  return tenants[0];
}

export async function getConversation(deps: ConversationDeps, principal: Principal, conversation: string, tenant?: string): Promise<Conversation> {
  const resolved = await resolveTenant(deps, principal, conversation, tenant);
  const row = await deps.redis.hgetall(keys.conversation(principal.account, resolved, conversation));
  if (!row.conversation_id) throw notFound("Conversation");
  return toConversation(row);
}

export async function listConversations(deps: ConversationDeps, principal: Principal, tenant: string, limit: number, offset: number) {
  assertTenant(principal, tenant, "read");
  const index = keys.conversations(principal.account, tenant);
  const [ids, total] = await Promise.all([deps.redis.zrevrange(index, String(offset), String(offset + limit - 1)), deps.redis.zcard(index)]);
  const rows = await Promise.all(ids.map((id) => deps.redis.hgetall(keys.conversation(principal.account, tenant, id))));
  return { conversations: rows.filter((r) => r.conversation_id).map(toConversation), total, limit, offset };
}

export async function listHistory(deps: ConversationDeps, principal: Principal, conversation: string, tenant: string | undefined, limit: number, offset: number) {
  const resolved = await resolveTenant(deps, principal, conversation, tenant);
  const index = keys.conversationMessages(principal.account, resolved, conversation);
  const [ids, total, cutoffMs] = await Promise.all([
    deps.redis.zrange(index, String(offset), String(offset + limit - 1)),
    deps.redis.zcard(index),
    retentionCutoff(deps.redis, principal.account, resolved),
  ]);
  if (total === 0 && !(await deps.redis.exists(keys.conversation(principal.account, resolved, conversation)))) throw notFound("Conversation");
  const messages = await loadMessages(deps, principal.account, ids, { cutoffMs });
  return { tenant_id: resolved, conversation_id: conversation, messages, total, limit, offset };
}

/** Removes the conversation with all its messages and their vectors. */
export async function deleteConversation(deps: ConversationDeps, principal: Principal, conversation: string, tenant?: string): Promise<void> {
  const resolved = await resolveTenant(deps, principal, conversation, tenant);
  assertTenant(principal, resolved, "write");
  const { account } = principal;
  const index = keys.conversationMessages(account, resolved, conversation);
  const [exists, count] = await Promise.all([deps.redis.exists(keys.conversation(account, resolved, conversation)), deps.redis.zcard(index)]);
  if (!exists && count === 0) throw notFound("Conversation");
  for (;;) {
    const ids = await deps.redis.zrange(index, "0", String(REMOVAL_CHUNK - 1));
    if (ids.length === 0) break;
    const messages = await loadMessages(deps, account, ids, { includeExpired: true });
    await removeMessages(deps, account, messages, { reason: "conversation_deleted" });
    const missing = ids.filter((id) => !messages.some((m) => m.id === id));
    if (missing.length > 0) await deps.redis.zrem(index, ...missing);
  }
  await deps.redis
    .multi()
    .del(keys.conversation(account, resolved, conversation), index)
    .zrem(keys.conversations(account, resolved), conversation)
    .srem(keys.conversationTenants(account, conversation), resolved)
    .exec();
  await emitEvent(deps.redis, account, { type: "conversation.deleted", tenant_id: resolved, data: { tenant_id: resolved, conversation_id: conversation } });
}
