import { t } from "elysia";
import { ConversationId, Metadata, QueryNumber, TenantId } from "../http/schemas";
import { Role } from "../messages/model";

export const SearchQuery = t.Object({
  tenant_id: TenantId,
  query: t.String({ minLength: 1, maxLength: 8000, examples: ["Python programming help"] }),
  top_k: QueryNumber("top_k", 0, 100, { integer: true, description: "1-100 results; 0 or absent = 5" }),
  conversation_id: t.Optional(ConversationId),
  min_importance: QueryNumber("min_importance", 0, 1),
  role: t.Optional(Role),
});

export const SearchResult = t.Object({
  id: t.String(),
  content: t.String(),
  score: t.Number({ description: "Cosine similarity, higher is closer" }),
  role: t.String(),
  conversation_id: t.String(),
  tenant_id: t.String(),
  importance: t.Number(),
  metadata: t.Union([Metadata, t.Null()]),
  created_at: t.String({ format: "date-time" }),
});
export type SearchResult = typeof SearchResult.static;

export const SearchResponse = t.Object(
  { results: t.Array(SearchResult, { description: "Best first" }) },
  {
    examples: [
      { results: [{ id: "0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6", content: "I need help with Python programming", score: 0.83, role: "user", conversation_id: "user-123", tenant_id: "my-app", importance: 0.8, metadata: { source: "web" }, created_at: "2026-11-25T12:00:00.000Z" }] },
    ],
  },
);

export const ReindexBody = t.Object({
  tenant_id: TenantId,
  mode: t.Optional(
    t.Union([t.Literal("failed"), t.Literal("pending"), t.Literal("all")], {
      default: "failed",
      description: "`failed`: retry failed messages; `pending`: queue again those still waiting; `all`: re-embed the whole tenant",
    }),
  ),
});
export const ReindexResponse = t.Object({ queued: t.Integer() }, { examples: [{ queued: 12 }] });
