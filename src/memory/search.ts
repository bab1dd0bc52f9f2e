import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import type { Message } from "../messages/model";
import { conversationNeighbours } from "../messages/neighbours";
import { loadMessages } from "../messages/read";
import type { Embedder } from "../store/embeddings";
import { collapseKey, metadataTags, queryTokens } from "../store/text";
import type { VectorFilter } from "../store/vector-index";
import { retentionCutoff } from "../tenants/policy";
import type { ContextMessage, SearchExplain, SearchResult } from "./model";
import { type Candidate, type FusionWeights, finalScore, fuse, type Scored, type SearchMode, type Signals } from "./ranking";

export const DEFAULT_TOP_K = 5;
export const DEFAULT_HALF_LIFE_DAYS = 30;

/** Embeds a search query for an account. */
export type QueryEmbedder = (account: string, query: string) => Promise<Float32Array>;

/**
 * A small LRU of query embeddings: a repeated query costs no model call. Entries are per account,
 * so a fast answer never tells one account that another searched the same text.
 */
export function createQueryCache(embedder: Embedder, size: number): QueryEmbedder {
  const cache = new Map<string, Float32Array>();
  return async (account, query) => {
    const key = `${account}\n${query}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const [vector] = await embedder.embed([query]);
    if (size > 0) {
      cache.set(key, vector);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
    }
    return vector;
  };
}

/** What search needs of the composition root. */
export type SearchDeps = Pick<Deps, "redis" | "vectors" | "config">;

/** A search as the service takes it: filters already parsed (times in ms, metadata as scalars). */
export interface SearchInput {
  tenant: string;
  query: string;
  topK?: number;
  mode?: SearchMode;
  conversation?: string;
  roles?: string[];
  minImportance?: number;
  createdAfter?: number;
  createdBefore?: number;
  metadata?: Record<string, string | number | boolean>;
  minScore?: number;
  recencyWeight?: number;
  recencyHalfLifeDays?: number;
  importanceWeight?: number;
  explain?: boolean;
  /** neighbouring messages returned on each side of a hit */
  context?: number;
  /** fusion weights other than the configured ones (benchmarks) */
  weights?: Partial<FusionWeights>;
}

/**
 * Hybrid, semantic or keyword search over a tenant's indexed messages. The semantic (cosine) and
 * keyword (BM25) lists are read `depth` deep in one round trip, fused (see ranking.ts), re-scored
 * with recency and importance when asked, filtered by `min_score`, collapsed (identical content
 * keeps its best hit) and cut to `top_k`; each hit can bring its conversation neighbours.
 */
export async function searchMemory(
  deps: SearchDeps,
  embedQuery: QueryEmbedder,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResult[]> {
  assertTenant(principal, input.tenant, "read");
  const { config } = deps;
  const mode = input.mode ?? "hybrid";
  const k = input.topK || DEFAULT_TOP_K;
  const depth = Math.max(config.SEARCH_CANDIDATES, 4 * k);
  const tokens = mode === "semantic" ? [] : queryTokens(input.query);
  const vector = mode === "keyword" ? undefined : await embedQuery(principal.account, input.query);
  const filter: VectorFilter = {
    account: principal.account,
    tenant: input.tenant,
    conversation: input.conversation,
    roles: input.roles,
    minImportance: input.minImportance,
    createdAfter: input.createdAfter,
    createdBefore: input.createdBefore,
    metadata: input.metadata ? metadataTags(input.metadata) : undefined,
  };
  const [lists, cutoffMs] = await Promise.all([
    deps.vectors.rank(filter, { vector, tokens, depth }),
    retentionCutoff(deps.redis, principal.account, input.tenant),
  ]);
  const weights: FusionWeights = {
    k: input.weights?.k ?? config.SEARCH_RRF_K,
    semantic: input.weights?.semantic ?? config.SEARCH_SEMANTIC_WEIGHT,
    keyword: input.weights?.keyword ?? config.SEARCH_KEYWORD_WEIGHT,
    coveragePower: input.weights?.coveragePower,
  };
  const candidates = fuse(mode, lists, weights);
  const signals: Signals = {
    recencyWeight: input.recencyWeight ?? 0,
    recencyHalfLifeDays: input.recencyHalfLifeDays ?? DEFAULT_HALF_LIFE_DAYS,
    importanceWeight: input.importanceWeight ?? 0,
  };
  const results = await pickResults(deps, principal.account, input, candidates, signals, k, cutoffMs);
  if (input.context) await attachContext(deps, principal.account, results, input.context, cutoffMs);
  return results;
}

/**
 * Loads candidates' messages and keeps the best `k` that pass `min_score`, one per distinct
 * content. Without signals the fused order is final, so messages are loaded a few at a time;
 * with signals every candidate is loaded and re-scored first.
 */
async function pickResults(deps: SearchDeps, account: string, input: SearchInput, candidates: Candidate[], signals: Signals, k: number, cutoffMs?: number) {
  const rescore = signals.recencyWeight > 0 || signals.importanceWeight > 0;
  const now = Date.now();
  const picked: SearchResult[] = [];
  const seen = new Set<string>();
  const chunk = rescore ? candidates.length : Math.max(2 * k, 10);
  for (let from = 0; from < candidates.length && picked.length < k; from += chunk) {
    const slice = candidates.slice(from, from + chunk);
    const messages = new Map((await loadMessages(deps, account, slice.map((c) => c.messageId), { cutoffMs })).map((m) => [m.id, m]));
    const scored = slice.flatMap((candidate) => {
      const m = messages.get(candidate.messageId);
      if (!m || m.tenant_id !== input.tenant) return [];
      const s = finalScore(candidate.relevance, Date.parse(m.created_at), m.importance, signals, now);
      return [{ result: toResult(m, s.score, input.explain ? explain(candidate, s, m.importance, signals) : undefined), candidate }];
    });
    if (rescore) scored.sort((a, b) => b.result.score - a.result.score);
    for (const { result } of scored) {
      if (picked.length >= k) break;
      if (input.minScore !== undefined && result.score < input.minScore) continue;
      const key = collapseKey(result.content);
      if (seen.has(key)) continue;
      seen.add(key);
      picked.push(result);
    }
  }
  return picked;
}

function explain(c: Candidate, s: Scored, importance: number, signals: Signals): SearchExplain {
  return {
    semantic: c.semantic ? { rank: c.semantic.rank, similarity: c.semantic.similarity, contribution: c.semantic.share * s.relevanceWeight } : null,
    keyword: c.keyword
      ? { rank: c.keyword.rank, bm25: c.keyword.bm25, coverage: c.keyword.coverage, contribution: c.keyword.share * s.relevanceWeight }
      : null,
    recency: { value: s.recency, contribution: signals.recencyWeight * s.recency },
    importance: { value: importance, contribution: signals.importanceWeight * importance },
  };
}

function toResult(m: Message, score: number, explained?: SearchExplain): SearchResult {
  const result: SearchResult = {
    id: m.id, content: m.content, score, role: m.role, conversation_id: m.conversation_id,
    tenant_id: m.tenant_id, importance: m.importance, metadata: m.metadata, created_at: m.created_at,
  };
  if (explained) result.explain = explained;
  return result;
}

/** Adds up to `n` messages before and after each hit, in conversation order. */
async function attachContext(deps: SearchDeps, account: string, results: SearchResult[], n: number, cutoffMs?: number): Promise<void> {
  const neighbours = await conversationNeighbours(deps, account, results, n, n, { cutoffMs });
  const brief = (m: Message): ContextMessage => ({ id: m.id, role: m.role, content: m.content, created_at: m.created_at });
  results.forEach((r, i) => {
    r.context = { before: neighbours[i].before.map(brief), after: neighbours[i].after.map(brief) };
  });
}
