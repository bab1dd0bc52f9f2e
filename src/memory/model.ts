import { t } from "elysia";
import { ConversationId, Metadata, QueryNumber, TenantId } from "../http/schemas";
import { Role } from "../messages/model";

const ROLE_NAMES = "(user|assistant|system|tool)";
const Mode = t.UnionEnum(["hybrid", "semantic", "keyword"], {
  default: "hybrid",
  description: "`hybrid`: keyword (BM25) and semantic lists fused (RRF); `semantic`: cosine similarity; `keyword`: BM25",
});
const Timestamp = (what: string) =>
  t.String({ maxLength: 40, description: `ISO-8601 date-time; ${what}`, examples: ["2026-11-01T00:00:00Z"] });
const SCORE_DOC = "Only results whose score is at least this (-1 to 1)";
const HALF_LIFE_DOC = "Half-life of the recency signal in days (default 30)";
const RECENCY_DOC = "Weight of recency in the score, 0-1 (default 0 = off); recency_weight + importance_weight <= 1";
const IMPORTANCE_DOC = "Weight of the message's importance in the score, 0-1 (default 0 = off)";
const CONTEXT_DOC = "Also return up to this many neighbouring messages of the hit's conversation on each side (0-10, default 0)";
const TOPK_DOC = "1-100 results; 0 or absent = 5";

export const SearchQuery = t.Object({
  tenant_id: TenantId,
  query: t.String({ minLength: 1, maxLength: 8000, examples: ["Python programming help"] }),
  top_k: QueryNumber("top_k", 0, 100, { integer: true, description: TOPK_DOC }),
  mode: t.Optional(Mode),
  conversation_id: t.Optional(ConversationId),
  min_importance: QueryNumber("min_importance", 0, 1),
  role: t.Optional(
    t.String({
      pattern: `^${ROLE_NAMES}(,${ROLE_NAMES})*$`,
      description: "One role, or several separated by commas (any of them)",
      examples: ["user", "user,assistant"],
      error: "role: expected user, assistant, system or tool, or several separated by commas",
    }),
  ),
  created_after: t.Optional(Timestamp("only messages created at or after it")),
  created_before: t.Optional(Timestamp("only messages created before it")),
  metadata: t.Optional(
    t.String({
      maxLength: 4096,
      description: "JSON object of top-level metadata values that must all be equal (strings, numbers, booleans)",
      examples: ['{"source":"web"}'],
    }),
  ),
  min_score: QueryNumber("min_score", -1, 1, { description: SCORE_DOC }),
  recency_half_life_days: QueryNumber("recency_half_life_days", 0.001, 36_500, { default: 30, description: HALF_LIFE_DOC }),
  recency_weight: QueryNumber("recency_weight", 0, 1, { default: 0, description: RECENCY_DOC }),
  importance_weight: QueryNumber("importance_weight", 0, 1, { default: 0, description: IMPORTANCE_DOC }),
  explain: t.Optional(t.BooleanString({ default: false, description: "Add each result's score components (`explain`)" })),
  context: QueryNumber("context", 0, 10, { integer: true, default: 0, description: CONTEXT_DOC }),
});
export type SearchQuery = typeof SearchQuery.static;

const Scalar = t.Union([t.String({ maxLength: 256 }), t.Number(), t.Boolean()]);

export const SearchBody = t.Object(
  {
    tenant_id: TenantId,
    query: t.String({ minLength: 1, maxLength: 32_000, examples: ["when did Caroline go to the support group?"] }),
    top_k: t.Optional(t.Integer({ minimum: 0, maximum: 100, default: 5, description: TOPK_DOC })),
    mode: t.Optional(Mode),
    conversation_id: t.Optional(ConversationId),
    min_importance: t.Optional(t.Number({ minimum: 0, maximum: 1, description: "Only messages at least this important" })),
    role: t.Optional(t.Union([Role, t.Array(Role, { minItems: 1, maxItems: 4 })], { description: "One role or a list (any of them)" })),
    created_after: t.Optional(Timestamp("only messages created at or after it")),
    created_before: t.Optional(Timestamp("only messages created before it")),
    metadata: t.Optional(
      t.Record(t.String({ maxLength: 256 }), Scalar, {
        maxProperties: 32,
        description: "Top-level metadata values that must all be equal",
        examples: [{ source: "web" }],
      }),
    ),
    min_score: t.Optional(t.Number({ minimum: -1, maximum: 1, description: SCORE_DOC })),
    recency_half_life_days: t.Optional(t.Number({ minimum: 0.001, maximum: 36_500, default: 30, description: HALF_LIFE_DOC })),
    recency_weight: t.Optional(t.Number({ minimum: 0, maximum: 1, default: 0, description: RECENCY_DOC })),
    importance_weight: t.Optional(t.Number({ minimum: 0, maximum: 1, default: 0, description: IMPORTANCE_DOC })),
    explain: t.Optional(t.Boolean({ default: false, description: "Add each result's score components (`explain`)" })),
    context: t.Optional(t.Integer({ minimum: 0, maximum: 10, default: 0, description: CONTEXT_DOC })),
  },
  { examples: [{ tenant_id: "my-app", query: "what pet do they have", top_k: 5, role: ["user"], explain: true }] },
);
export type SearchBody = typeof SearchBody.static;

const RANK_DOC = "1-based rank in that list";
const CONTRIBUTION_DOC = "What this list added to the score";
const SemanticPart = t.Object({ rank: t.Integer({ description: RANK_DOC }), similarity: t.Number(), contribution: t.Number({ description: CONTRIBUTION_DOC }) });
const KeywordPart = t.Object({
  rank: t.Integer({ description: RANK_DOC }),
  bm25: t.Number(),
  coverage: t.Number({ description: "Share of the query's IDF this message matches (0-1)" }),
  contribution: t.Number({ description: CONTRIBUTION_DOC }),
});
const Signal = t.Object({ value: t.Number(), contribution: t.Number() });

export const SearchExplain = t.Object(
  {
    semantic: t.Union([SemanticPart, t.Null()]),
    keyword: t.Union([KeywordPart, t.Null()]),
    recency: Signal,
    importance: Signal,
  },
  { description: "Score components; the contributions add up to `score`. null: not in that list" },
);
export type SearchExplain = typeof SearchExplain.static;

export const ContextMessage = t.Object({
  id: t.String(),
  role: t.String(),
  content: t.String(),
  created_at: t.String({ format: "date-time" }),
});
export type ContextMessage = typeof ContextMessage.static;

export const SearchResult = t.Object({
  id: t.String(),
  content: t.String(),
  score: t.Number({
    description: "Higher is better. hybrid: fused rank score, 0-1 (1 = first in both lists); semantic: cosine similarity; keyword: BM25 / best BM25",
  }),
  role: t.String(),
  conversation_id: t.String(),
  tenant_id: t.String(),
  importance: t.Number(),
  metadata: t.Union([Metadata, t.Null()]),
  created_at: t.String({ format: "date-time" }),
  explain: t.Optional(SearchExplain),
  context: t.Optional(
    t.Object({ before: t.Array(ContextMessage), after: t.Array(ContextMessage) }, { description: "Neighbouring messages, in order" }),
  ),
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
