import { Elysia } from "elysia";
import { assertTenant, chargeMessages, requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, refuseNonObjectMetadata, security } from "../http/schemas";
import { ReindexBody, ReindexResponse, SearchBody, SearchQuery, SearchResponse } from "./model";
import { reindexTenant } from "./reindex";
import { createQueryCache, searchMemory } from "./search";
import { refuseUnknownSearchParameters, toSearchInput } from "./search-input";

const SEARCH_DOC = [
  "`hybrid` fuses a BM25 keyword list and a semantic (cosine) list with Reciprocal Rank Fusion:",
  "score = sum of w / (60 + rank) over the lists a message is in, divided by its maximum (1 = first in both).",
  "With `recency_weight` or `importance_weight`: score = (1 - w_r - w_i) x relevance + w_r x 0.5^(age_days / half_life) + w_i x importance.",
  "Filters combine (all must hold). Identical contents (case and whitespace aside) are returned once.",
].join(" ");


export function memoryRoutes(deps: Deps) {
  const embedQuery = createQueryCache(deps.embedder, deps.config.QUERY_CACHE_SIZE);
  return new Elysia({ prefix: "/v1/memory", tags: ["Memory"] })
    .derive(requireAuth(deps))
    .get("/search", async ({ principal, query }) => ({ results: await searchMemory(deps, embedQuery, principal, toSearchInput(query)) }), {
      transform: refuseUnknownSearchParameters,
      query: SearchQuery,
      response: { 200: SearchResponse, ...errors(400, 401, 403, 429, 503) },
      detail: {
        operationId: "searchMemory",
        summary: "Search a tenant's indexed messages: hybrid (default), semantic or keyword; best first",
        description: SEARCH_DOC,
        security,
      },
    })
    .post("/search", async ({ principal, body }) => ({ results: await searchMemory(deps, embedQuery, principal, toSearchInput(body)) }), {
      transform: refuseNonObjectMetadata,
      body: SearchBody,
      response: { 200: SearchResponse, ...errors(400, 401, 403, 413, 415, 429, 503) },
      detail: {
        operationId: "searchMemoryWithBody",
        summary: "The same search with a JSON body (long queries, many filters)",
        description: SEARCH_DOC,
        security,
      },
    })
    .post(
      "/reindex",
      async ({ principal, body, set }) => {
        assertTenant(principal, body.tenant_id, "write");
        const charge = async (messages: number) => void Object.assign(set.headers, await chargeMessages(deps, principal, messages));
        const queued = await reindexTenant(deps, principal.account, body.tenant_id, body.mode ?? "failed", { charge });
        set.status = 202;
        return { queued };
      },
      {
        body: ReindexBody,
        response: { 202: ReindexResponse, ...errors(400, 401, 403, 409, 429) },
        detail: {
          operationId: "reindexTenant",
          summary: "Queue a tenant's failed, pending or all messages for indexing again",
          description:
            "`queued` is how many messages were queued; their `status` is `pending` until indexed again. Costs 1 request plus 1 per RATE_LIMIT_BATCH_UNIT messages queued (started), charged before anything is queued: 429 when the budget cannot cover it now, 400 `too_large_for_rate_limit` when it never could (operators: `bun run reindex`). One reindex per tenant at a time: 409 `reindex_running` until the previous one's messages have been processed.",
          security,
        },
      },
    );
}
