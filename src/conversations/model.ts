import { t } from "elysia";
import { ConversationId, Maybe, Metadata, QueryNumber, TenantId } from "../http/schemas";
import { Message } from "../messages/model";

export const UpsertConversation = t.Object({
  tenant_id: TenantId,
  conversation_id: ConversationId,
  title: Maybe(t.String({ maxLength: 500, examples: ["Python help"] })),
  metadata: Maybe(Metadata),
});

export const Conversation = t.Object(
  {
    tenant_id: t.String(),
    conversation_id: t.String(),
    title: t.Union([t.String(), t.Null()]),
    metadata: t.Union([Metadata, t.Null()]),
    message_count: t.Integer(),
    created_at: t.String({ format: "date-time" }),
    updated_at: t.String({ format: "date-time" }),
    last_message_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
  },
  {
    examples: [
      { tenant_id: "my-app", conversation_id: "user-123", title: "Python help", metadata: null, message_count: 2, created_at: "2026-11-25T12:00:00.000Z", updated_at: "2026-11-25T12:00:00.000Z", last_message_at: "2026-11-25T12:01:00.000Z" },
    ],
  },
);
export type Conversation = typeof Conversation.static;

const Page = {
  limit: QueryNumber("limit", 1, 200, { integer: true, description: "default 20" }),
  offset: QueryNumber("offset", 0, 1_000_000_000, { integer: true, description: "default 0" }),
};

export const ListQuery = t.Object({ tenant_id: TenantId, ...Page });
export const ConversationQuery = t.Object({ tenant_id: t.Optional(TenantId) });
export const HistoryQuery = t.Object({
  tenant_id: t.Optional(TenantId),
  limit: QueryNumber("limit", 1, 1000, { integer: true, description: "default 100" }),
  offset: QueryNumber("offset", 0, 1_000_000_000, { integer: true, description: "default 0" }),
});

export const ConversationList = t.Object({
  conversations: t.Array(Conversation, { description: "Newest activity first" }),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

export const History = t.Object({
  tenant_id: t.String(),
  conversation_id: t.String(),
  messages: t.Array(Message, { description: "Oldest first" }),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

export function toConversation(row: Record<string, string>): Conversation {
  return {
    tenant_id: row.tenant_id,
    conversation_id: row.conversation_id,
    title: row.title || null,
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, unknown> | null) : null,
    message_count: Number(row.message_count ?? 0),
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_message_at: row.last_message_at || null,
  };
}
