import type { RedisClient } from "../store/redis";
import { keys } from "../store/keys";
import { Script } from "../store/script";
import { EMIT_LUA, EVENT_LOG_LENGTH } from "./model";

/** An event made outside a script (EMIT_LUA): to sockets and the event log, or to the event log only. */
const EMIT = new Script(`${EMIT_LUA}
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ${EVENT_LOG_LENGTH}, '*', 'e', ARGV[2])
    redis.call('SPUBLISH', KEYS[1] .. ':wake', '1')
  end
else
  emit(ARGV[1], KEYS[1], KEYS[2], ARGV[2])
end
return 1
`);

/** An event that is not about one message (a conversation, a data job, a webhook), for webhooks only. */
export interface AccountEvent {
  type: "conversation.deleted" | "job.completed" | "job.failed" | "webhook.disabled" | "webhook.test";
  tenant_id?: string;
  data: Record<string, unknown>;
}

/**
 * Sends an event of an account that is not made inside the script of the change: a message event
 * (an envelope of envelope()) goes to sockets and the event log, an AccountEvent to the event log
 * only (sockets carry message events). Best effort after the change it reports.
 */
export async function emitEvent(redis: RedisClient, account: string, event: string | AccountEvent): Promise<void> {
  const forSockets = typeof event === "string";
  const body = forSockets ? event : JSON.stringify({ account, event: { id: `evt_${Bun.randomUUIDv7()}`, ts: new Date().toISOString(), ...event } });
  await EMIT.run(redis, [keys.eventLogOf(account), keys.webhooks(account)], [forSockets ? keys.eventsChannelOf(account) : "", body]).catch(() => undefined);
}
