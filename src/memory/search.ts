import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { loadMessages } from "../messages/remove";
import type { Embedder } from "../store/embeddings";
import type { SearchResult } from "./model";

export const DEFAULT_TOP_K = 5;

/** A small LRU of query embeddings: a repeated query costs no model call. */
export function createQueryCache(embedder: Embedder, size: number) {
  const cache = new Map<string, Float32Array>();
  return async (query: string): Promise<Float32Array> => {
    const hit = cache.get(query);
    if (hit) {
      cache.delete(query);
      cache.set(query, hit);
      return hit;
    }
    const [vector] = await embedder.embed([query]);
    if (size > 0) {
      cache.set(query, vector);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
    }
    return vector;
  };
}

export interface SearchInput {
  tenant: string;
  query: string;
  topK?: number;
  conversation?: string;
  role?: string;
  minImportance?: number;
}

/** Embeds the query and runs a filtered KNN; results come from the stored messages, best first. */
export async function searchMemory(
  deps: Deps,
  embedQuery: (q: string) => Promise<Float32Array>,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResult[]> {
  assertTenant(principal, input.tenant, "read");
  const k = input.topK || DEFAULT_TOP_K;
  const vector = await embedQuery(input.query);
  const hits = await deps.vectors.search(
    { account: principal.account, tenant: input.tenant, conversation: input.conversation, role: input.role, minImportance: input.minImportance },
    vector,
    k,
  );
  const messages = await loadMessages(deps, principal.account, hits.map((h) => h.messageId));
  const byId = new Map(messages.map((m) => [m.id, m]));
  const results: SearchResult[] = [];
  for (const hit of hits) {
    const m = byId.get(hit.messageId);
    if (!m || m.tenant_id !== input.tenant) continue;
    results.push({
      id: m.id, content: m.content, score: hit.score, role: m.role, conversation_id: m.conversation_id,
      tenant_id: m.tenant_id, importance: m.importance, metadata: m.metadata, created_at: m.created_at,
    });
  }
  return results;
}
