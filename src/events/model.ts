import { t } from "elysia";
import { Message } from "../messages/model";

/** Entries an event log keeps at most (approximately): days of a busy shard's events, for deliveries to catch up. */
export const EVENT_LOG_LENGTH = 1_000_000;

export const EventType = t.Union([
  t.Literal("message.created"),
  t.Literal("message.indexed"),
  t.Literal("message.failed"),
  t.Literal("message.updated"),
  t.Literal("message.deleted"),
]);
export type EventType = typeof EventType.static;

export const DeletionReason = t.UnionEnum(["deleted", "conversation_deleted", "filter", "expired", "retention", "tenant_erased"], {
  // UnionEnum would default to the first value; an event without a reason has none.
  default: undefined,
  description:
    "Why a message was deleted: `deleted` (DELETE /v1/messages/{id}), `conversation_deleted`, `filter` (a delete-by-filter job), `expired` (its ttl_seconds / expires_at), `retention` (its tenant's retention policy), `tenant_erased`",
});
export type DeletionReason = typeof DeletionReason.static;

/** What a WebSocket client receives. */
export const MessageEvent = t.Object({
  id: t.String({ description: "The event's id: the same on every socket and in every webhook delivery (`webhook-id`) of it" }),
  type: EventType,
  tenant_id: t.String(),
  conversation_id: t.String(),
  message: Message,
  reason: t.Optional(DeletionReason),
  ts: t.String({ format: "date-time" }),
});
export type MessageEvent = typeof MessageEvent.static;

/** What travels on Redis pub/sub: the event plus the account it belongs to (never sent to clients). */
export interface Envelope {
  account: string;
  event: MessageEvent;
}

export function envelope(account: string, type: EventType, message: MessageEvent["message"], reason?: DeletionReason): string {
  const event: MessageEvent = {
    id: `evt_${Bun.randomUUIDv7()}`, type, tenant_id: message.tenant_id, conversation_id: message.conversation_id, message, ts: new Date().toISOString(),
  };
  if (reason) event.reason = reason;
  return JSON.stringify({ account, event } satisfies Envelope);
}

/**
 * Lua shared by the scripts that produce events: `emit(channel, log, hooks, envelope)` publishes it
 * on the shard's channel (sockets) and, when the account has webhooks (`hooks`, its webhook set,
 * exists), appends it to the shard's event log, from which workers make webhook deliveries, and
 * wakes them (`<log>:wake`): in the same atomic step as the change it reports, so no event of a
 * committed change is lost.
 */
export const EMIT_LUA = `
local function emit(channel, log, hooks, envelope)
  redis.call('SPUBLISH', channel, envelope)
  if redis.call('EXISTS', hooks) == 1 then
    redis.call('XADD', log, 'MAXLEN', '~', ${EVENT_LOG_LENGTH}, '*', 'e', envelope)
    redis.call('SPUBLISH', log .. ':wake', '1')
  end
end
`;
