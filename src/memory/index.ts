import { Elysia } from "elysia";
import { assertTenant, requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, security } from "../http/schemas";
import { ReindexBody, ReindexResponse, SearchQuery, SearchResponse } from "./model";
import { reindexTenant } from "./reindex";
import { createQueryCache, searchMemory } from "./search";


export function memoryRoutes(deps: Deps) {
  const embedQuery = createQueryCache(deps.embedder, deps.config.QUERY_CACHE_SIZE);
  return new Elysia({ prefix: "/v1/memory", tags: ["Memory"] })
    .derive(requireAuth(deps))
    .get(
      "/search",
      async ({ principal, query }) => ({
        results: await searchMemory(deps, embedQuery, principal, {
          tenant: query.tenant_id,
          query: query.query,
          topK: query.top_k,
          conversation: query.conversation_id,
          role: query.role,
          minImportance: query.min_importance,
        }),
      }),
      {
        query: SearchQuery,
        response: { 200: SearchResponse, ...errors(400, 401, 403, 429, 503) },
        detail: { summary: "Semantic search over a tenant's indexed messages (cosine similarity, best first)", security },
      },
    )
    .post(
      "/reindex",
      async ({ principal, body, set }) => {
        assertTenant(principal, body.tenant_id, "write");
        set.status = 202;
        return { queued: await reindexTenant(deps, principal.account, body.tenant_id, body.mode ?? "failed") };
      },
      {
        body: ReindexBody,
        response: { 202: ReindexResponse, ...errors(400, 401, 403) },
        detail: { summary: "Queue a tenant's failed, pending or all messages for indexing again", security },
      },
    );
}
