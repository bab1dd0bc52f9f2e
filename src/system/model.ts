import { t } from "elysia";

export const Health = t.Object({ status: t.Literal("ok") }, { examples: [{ status: "ok" }] });
export const Ready = t.Object(
  {
    status: t.Union([t.Literal("ready"), t.Literal("unavailable")]),
    redis: t.Boolean(),
    queue: t.Boolean(),
    vector_engine: t.String({ description: "`query-engine` (HNSW) or `exact` (fallback scan)" }),
    vector_index: t.String(),
    embedding_model: t.String(),
  },
  {
    examples: [
      { status: "ready", redis: true, queue: true, vector_engine: "exact", vector_index: "exact:local-use-lite-512", embedding_model: "local-use-lite-512" },
    ],
  },
);
