import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { type DeletionReason, EMIT_LUA, envelope } from "../events/model";
import { keys, outboxMember } from "../store/keys";
import { Script } from "../store/script";
import type { Message } from "./model";
import { getMessage } from "./read";
import { MOVE_STATUS_LUA } from "./status";

export type RemovalDeps = Pick<Deps, "redis" | "vectors">;

/**
 * Removes a message with its vector (from both engine layouts), its place in its conversation and
 * its tenant's time index, its outbox and expiry entries and its count, atomically, so it leaves
 * search, lists and history at once; the indexing script checks the message still exists before
 * writing, and sends `message.deleted` (EMIT_LUA). Returns 1, or 0 when it was already gone (so each
 * removal is counted once). KEYS: the message and its entries (9), event log, webhooks, and
 * optionally the data job doing it, whose count goes up in the same step (exact across crashes).
 * ARGV: id, outbox member, a time (ms) by which the message must have expired or '' (an expiry
 * pushed back meanwhile wins over the sweeper), events channel, the event.
 */
const REMOVE = new Script(`${MOVE_STATUS_LUA}${EMIT_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' then
  local expires = redis.call('HGET', KEYS[1], 'expires_ms')
  if not expires or tonumber(expires) > tonumber(ARGV[3]) then return 0 end
end
move_status(KEYS[1], KEYS[8], false)
redis.call('DEL', KEYS[1])
if redis.call('ZREM', KEYS[3], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'message_count', -1)
end
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[2])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[9], ARGV[2])
emit(ARGV[4], KEYS[10], KEYS[11], ARGV[5])
if KEYS[12] then redis.call('HINCRBY', KEYS[12], 'deleted', 1) end
return 1
`);

/**
 * Removes messages (each atomically, see REMOVE) and tells subscribers why (`message.deleted`).
 * Returns how many were removed by this call.
 */
export interface RemovalOptions {
  reason?: DeletionReason;
  /** the data job removing them (its count goes up with each removal) */
  jobKey?: string;
  /** remove only messages whose expiry is at or before this time (ms) */
  expiredBy?: number;
}

export async function removeMessages(deps: RemovalDeps, account: string, messages: Message[], options: RemovalOptions = {}): Promise<number> {
  const { reason = "deleted", jobKey, expiredBy } = options;
  const results = await Promise.all(
    messages.map((m) => {
      const { docKey, exactKey } = deps.vectors.removalFor(account, m.tenant_id, m.id);
      return REMOVE.run<number>(
        deps.redis,
        [
          keys.message(account, m.id),
          keys.conversation(account, m.tenant_id, m.conversation_id),
          keys.conversationMessages(account, m.tenant_id, m.conversation_id),
          docKey,
          exactKey,
          keys.outboxOf(account),
          keys.tenantMessages(account, m.tenant_id),
          keys.tenantStats(account, m.tenant_id),
          keys.expiriesOf(account),
          keys.eventLogOf(account),
          keys.webhooks(account),
          ...(jobKey ? [jobKey] : []),
        ],
        [m.id, outboxMember(account, m.id), expiredBy ?? "", keys.eventsChannelOf(account), envelope(account, "message.deleted", m, reason)],
      );
    }),
  );
  return results.filter((r) => r === 1).length;
}

export async function deleteMessage(deps: RemovalDeps, principal: Principal, id: string): Promise<void> {
  const message = await getMessage(deps, principal, id);
  assertTenant(principal, message.tenant_id, "write");
  await removeMessages(deps, principal.account, [message]);
}
