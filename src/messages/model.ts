import { t } from "elysia";
import { ConversationId, Maybe, MessageId, Metadata, TenantId } from "../http/schemas";

export const Role = t.Union([t.Literal("user"), t.Literal("assistant"), t.Literal("system"), t.Literal("tool")], {
  description: "Who said it",
});

/** Hard ceilings of the schema; the configured (smaller) limits are checked by the service. */
export const MAX_CONTENT_CEILING = 1_000_000;

export const MessageInput = t.Object({
  tenant_id: TenantId,
  conversation_id: ConversationId,
  role: Role,
  content: t.String({ minLength: 1, maxLength: MAX_CONTENT_CEILING, examples: ["I need help with Python programming"] }),
  importance: Maybe(t.Number({ minimum: 0, maximum: 1, description: "0..1; default 0.5", examples: [0.8] })),
  metadata: Maybe(Metadata),
  id: Maybe(MessageId),
  created_at: Maybe(
    t.String({
      maxLength: 40,
      description: "When it was said (ISO-8601 with offset, e.g. for imported history); not in the future. Default: when accepted",
      examples: ["2026-11-20T18:04:00Z"],
    }),
  ),
});
export type MessageInput = typeof MessageInput.static;

export const BatchInput = t.Object({
  messages: t.Array(MessageInput, { minItems: 1, maxItems: 1000, description: "1 to 1,000 (MAX_BATCH_MESSAGES may lower it)" }),
});

export const MessageStatus = t.Union([t.Literal("pending"), t.Literal("indexed"), t.Literal("failed")]);

export const Message = t.Object(
  {
    id: t.String(),
    tenant_id: t.String(),
    conversation_id: t.String(),
    role: t.String(),
    content: t.String(),
    importance: t.Number(),
    metadata: t.Union([Metadata, t.Null()]),
    status: MessageStatus,
    created_at: t.String({ format: "date-time" }),
    indexed_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
    error: t.Union([t.String(), t.Null()], { description: "Why indexing failed (status failed)" }),
  },
  {
    examples: [
      {
        id: "0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6", tenant_id: "my-app", conversation_id: "user-123", role: "user",
        content: "I need help with Python programming", importance: 0.8, metadata: { source: "web" }, status: "pending",
        created_at: "2026-11-25T12:00:00.000Z", indexed_at: null, error: null,
      },
    ],
  },
);
export type Message = typeof Message.static;

export const BatchCreated = t.Object({ created: t.Array(Message, { description: "In input order" }) });

export const DEFAULT_IMPORTANCE = 0.5;

/** A stored message hash as the API shows it. */
export function toMessage(row: Record<string, string>): Message {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    conversation_id: row.conversation_id,
    role: row.role,
    content: row.content,
    importance: Number(row.importance),
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, unknown> | null) : null,
    status: (row.status as Message["status"]) ?? "pending",
    created_at: row.created_at,
    indexed_at: row.indexed_at || null,
    error: row.error || null,
  };
}
