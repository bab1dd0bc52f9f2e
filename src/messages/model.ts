import { t } from "elysia";
import { ConversationId, Maybe, MessageId, Metadata, QueryNumber, TenantId } from "../http/schemas";

export const Role = t.Union([t.Literal("user"), t.Literal("assistant"), t.Literal("system"), t.Literal("tool")], {
  description: "Who said it",
});

/** Hard ceilings of the schema; the configured (smaller) limits are checked by the service. */
export const MAX_CONTENT_CEILING = 1_000_000;
/** 100 years: longer is "never", which is the default. */
export const MAX_TTL_SECONDS = 100 * 365 * 86_400;

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
  ttl_seconds: Maybe(
    t.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, description: "Forget the message this many seconds after it is stored", examples: [86400] }),
  ),
  expires_at: Maybe(
    t.String({ maxLength: 40, description: "Forget the message at this time (ISO-8601 with offset, in the future); not with ttl_seconds", examples: ["2027-01-01T00:00:00Z"] }),
  ),
});
export type MessageInput = typeof MessageInput.static;

export const MessageUpdate = t.Object(
  {
    content: t.Optional(t.String({ minLength: 1, maxLength: MAX_CONTENT_CEILING, description: "New content: re-embedded (status back to pending)" })),
    metadata: Maybe(Metadata),
    importance: t.Optional(t.Number({ minimum: 0, maximum: 1 })),
    ttl_seconds: Maybe(t.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, description: "Expire this many seconds from now (null: never)" })),
    expires_at: Maybe(t.String({ maxLength: 40, description: "Expire at this time (ISO-8601, in the future; null: never)" })),
  },
  { examples: [{ metadata: { source: "web", reviewed: true }, importance: 0.9 }] },
);
export type MessageUpdate = typeof MessageUpdate.static;

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
    expires_at: t.Union([t.String({ format: "date-time" }), t.Null()], { description: "When it will be forgotten (null: never)" }),
    updated_at: t.Union([t.String({ format: "date-time" }), t.Null()], { description: "When it was last updated (null: never)" }),
  },
  {
    examples: [
      {
        id: "0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6", tenant_id: "my-app", conversation_id: "user-123", role: "user",
        content: "I need help with Python programming", importance: 0.8, metadata: { source: "web" }, status: "pending",
        created_at: "2026-11-25T12:00:00.000Z", indexed_at: null, error: null, expires_at: null, updated_at: null,
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
    expires_at: row.expires_at || null,
    updated_at: row.updated_at || null,
  };
}

/**
 * Whether a stored message may still be shown: not past its own expiry, and not older than its
 * tenant's retention cutoff (ms; undefined = no policy). Expired messages are hidden at once, before
 * the sweeper removes them.
 */
export function isLive(row: Record<string, string>, now: number, cutoffMs?: number): boolean {
  if (row.expires_ms && Number(row.expires_ms) <= now) return false;
  if (cutoffMs === undefined) return true;
  const created = row.created_ms ? Number(row.created_ms) : Date.parse(row.created_at);
  return created >= cutoffMs;
}

const commaList = (names: string[], what: string) => {
  const one = `(${names.join("|")})`;
  return t.String({ pattern: `^${one}(,${one})*$`, description: `One ${what}, or several separated by commas (any of them)`, error: `${what}: expected ${names.join(", ")}, or several separated by commas` });
};

export const ListMessagesQuery = t.Object({
  tenant_id: TenantId,
  conversation_id: t.Optional(ConversationId),
  role: t.Optional(commaList(["user", "assistant", "system", "tool"], "role")),
  status: t.Optional(commaList(["pending", "indexed", "failed"], "status")),
  created_after: t.Optional(t.String({ maxLength: 40, description: "ISO-8601; messages created at or after it" })),
  created_before: t.Optional(t.String({ maxLength: 40, description: "ISO-8601; messages created before it" })),
  order: t.Optional(t.UnionEnum(["newest", "oldest"], { default: "newest", description: "By created_at; default newest first" })),
  limit: QueryNumber("limit", 1, 1000, { integer: true, description: "1-1000, default 100" }),
  cursor: t.Optional(t.String({ maxLength: 2048, description: "`next_cursor` of the previous page (same filters and order)" })),
});
export type ListMessagesQuery = typeof ListMessagesQuery.static;

export const MessagePage = t.Object({
  messages: t.Array(Message),
  next_cursor: t.Union([t.String(), t.Null()], {
    description: "Pass as `cursor` for the next page; null at the end. A page may hold fewer than `limit` messages and still have one (filters that match little).",
  }),
});
