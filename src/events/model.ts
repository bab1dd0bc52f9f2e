import { t } from "elysia";
import { Message } from "../messages/model";

export const EventType = t.Union([
  t.Literal("message.created"),
  t.Literal("message.indexed"),
  t.Literal("message.failed"),
  t.Literal("message.deleted"),
]);
export type EventType = typeof EventType.static;

/** What a WebSocket client receives. */
export const MessageEvent = t.Object({
  type: EventType,
  tenant_id: t.String(),
  conversation_id: t.String(),
  message: Message,
  ts: t.String({ format: "date-time" }),
});
export type MessageEvent = typeof MessageEvent.static;

/** What travels on Redis pub/sub: the event plus the account it belongs to (never sent to clients). */
export interface Envelope {
  account: string;
  event: MessageEvent;
}

export function envelope(account: string, type: EventType, message: MessageEvent["message"]): string {
  const event: MessageEvent = { type, tenant_id: message.tenant_id, conversation_id: message.conversation_id, message, ts: new Date().toISOString() };
  return JSON.stringify({ account, event } satisfies Envelope);
}
