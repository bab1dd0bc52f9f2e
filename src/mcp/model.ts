import { t } from "elysia";
import { ConversationList, History } from "../conversations/model";
import { ConversationId, MessageId, Metadata, TenantId } from "../http/schemas";
import { SearchBody, SearchResponse } from "../memory/model";
import { Role } from "../messages/model";

/**
 * The MCP tools' arguments and results: JSON Schema written with the same `t` schemas as the REST
 * API (many are the REST schemas themselves), so a tool validates as its endpoint does and fails
 * with the same words.
 */
export const SearchMemoryInput = SearchBody;

export const RememberInput = t.Object(
  {
    tenant_id: TenantId,
    conversation_id: ConversationId,
    messages: t.Array(
      t.Object({
        role: Role,
        content: t.String({ minLength: 1, maxLength: 32_000, description: "What was said" }),
        importance: t.Optional(t.Number({ minimum: 0, maximum: 1, description: "0..1; default 0.5" })),
        metadata: t.Optional(Metadata),
        created_at: t.Optional(t.String({ maxLength: 40, description: "When it was said (ISO-8601 with offset); default now" })),
        id: t.Optional(MessageId),
      }),
      { minItems: 1, maxItems: 100, description: "1 to 100 messages, in the order they were said" },
    ),
  },
  {
    examples: [
      { tenant_id: "my-app", conversation_id: "user-123", messages: [{ role: "user", content: "My daughter Ana starts school in September" }] },
    ],
  },
);

export const RememberOutput = t.Object({
  stored: t.Array(t.Object({ id: t.String(), status: t.String() }), { description: "In input order; `pending` until indexed (seconds)" }),
});

export const GetConversationInput = t.Object(
  {
    conversation_id: ConversationId,
    tenant_id: t.Optional(TenantId),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, description: "default 100" })),
    offset: t.Optional(t.Integer({ minimum: 0, description: "default 0" })),
  },
  { examples: [{ conversation_id: "user-123", tenant_id: "my-app", limit: 50 }] },
);
export const GetConversationOutput = History;

export const ListConversationsInput = t.Object(
  {
    tenant_id: TenantId,
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 200, description: "default 20" })),
    offset: t.Optional(t.Integer({ minimum: 0, description: "default 0" })),
  },
  { examples: [{ tenant_id: "my-app", limit: 10 }] },
);
export const ListConversationsOutput = ConversationList;

export const ForgetInput = t.Object(
  {
    message_id: t.Optional(MessageId),
    conversation_id: t.Optional(ConversationId),
    tenant_id: t.Optional(TenantId),
  },
  {
    description: "Give message_id to forget one message, or conversation_id (and tenant_id if the id is used in several tenants) to forget a whole conversation",
    examples: [{ message_id: "0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6" }, { conversation_id: "user-123", tenant_id: "my-app" }],
  },
);
export const ForgetOutput = t.Object({
  forgotten: t.UnionEnum(["message", "conversation"]),
  id: t.String({ description: "The message or conversation id" }),
});

export { SearchResponse as SearchMemoryOutput };
