import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { envelope } from "../events/model";
import { keys, outboxMember } from "../store/keys";
import { Script } from "../store/script";
import type { Message } from "./model";
import { getMessage } from "./read";

export type RemovalDeps = Pick<Deps, "redis" | "vectors">;

/**
 * Removes a message with its vector (from both engine layouts) and outbox entry, atomically, so
 * it leaves search at once; the indexing script checks the message still exists before writing.
 */
const REMOVE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('ZREM', KEYS[3], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'message_count', -1)
end
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[2])
return 1
`);

export async function removeMessages(deps: RemovalDeps, account: string, messages: Message[]): Promise<number> {
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
        ],
        [m.id, outboxMember(account, m.id)],
      );
    }),
  );
  const pipeline = deps.redis.pipeline();
  messages.forEach((m, i) => {
    if (results[i] === 1) pipeline.spublish(keys.eventsChannelOf(account), envelope(account, "message.deleted", m));
  });
  await pipeline.exec().catch(() => undefined);
  return results.filter((r) => r === 1).length;
}

export async function deleteMessage(deps: RemovalDeps, principal: Principal, id: string): Promise<void> {
  const message = await getMessage(deps, principal, id);
  assertTenant(principal, message.tenant_id, "write");
  await removeMessages(deps, principal.account, [message]);
}
