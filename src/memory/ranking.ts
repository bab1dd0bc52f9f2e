import type { RankedLists } from "../store/vector-index";

export type SearchMode = "hybrid" | "semantic" | "keyword";

export interface FusionWeights {
  /** k of Reciprocal Rank Fusion */
  k: number;
  semantic: number;
  keyword: number;
  /** exponent of a keyword hit's coverage (2; benchmarks set 0 for plain RRF) */
  coveragePower?: number;
}

/** One candidate after fusion: where it stood in each list and its relevance in [0, 1] (cosine for semantic). */
export interface Candidate {
  messageId: string;
  relevance: number;
  semantic?: { rank: number; similarity: number; share: number };
  keyword?: { rank: number; bm25: number; coverage: number; share: number };
}

/**
 * Relevance of each candidate, best first.
 * - hybrid: weighted Reciprocal Rank Fusion, normalised so that first in both lists (matching
 *   every query term) is 1:
 *   relevance = (w_s / (k + rank_s) + w_k * coverage^2 / (k + rank_k)) / ((w_s + w_k) / (k + 1));
 *   a list a message is absent from adds nothing. `coverage` is the share of the query's IDF the
 *   message matches: a keyword hit on one common word of a paraphrased question counts little,
 *   one on every rare word of "when did Kate visit Art Basel?" counts fully.
 * - semantic: the cosine similarity.
 * - keyword: BM25 divided by the best BM25 of the query, so the top hit is 1.
 * `share` is the part of the relevance each list gave.
 */
export function fuse(mode: SearchMode, lists: RankedLists, weights: FusionWeights): Candidate[] {
  const byId = new Map<string, Candidate>();
  const at = (messageId: string) => {
    let c = byId.get(messageId);
    if (!c) {
      c = { messageId, relevance: 0 };
      byId.set(messageId, c);
    }
    return c;
  };
  if (mode === "semantic") {
    lists.semantic.forEach((hit, i) => {
      at(hit.messageId).semantic = { rank: i + 1, similarity: hit.score, share: hit.score };
    });
  } else if (mode === "keyword") {
    const best = lists.keyword[0]?.score || 1;
    lists.keyword.forEach((hit, i) => {
      at(hit.messageId).keyword = { rank: i + 1, bm25: hit.score, coverage: hit.coverage ?? 1, share: hit.score / best };
    });
  } else {
    // Only lists that were asked for count in the normalisation (a query of stopwords has no keyword list).
    const used = (lists.semantic.length > 0 ? weights.semantic : 0) + (lists.keyword.length > 0 ? weights.keyword : 0);
    const norm = used > 0 ? used / (weights.k + 1) : 1;
    lists.semantic.forEach((hit, i) => {
      at(hit.messageId).semantic = { rank: i + 1, similarity: hit.score, share: weights.semantic / (weights.k + i + 1) / norm };
    });
    lists.keyword.forEach((hit, i) => {
      const coverage = hit.coverage ?? 1;
      at(hit.messageId).keyword = { rank: i + 1, bm25: hit.score, coverage, share: (weights.keyword * coverage ** (weights.coveragePower ?? 2)) / (weights.k + i + 1) / norm };
    });
  }
  const candidates = [...byId.values()];
  for (const c of candidates) c.relevance = (c.semantic?.share ?? 0) + (c.keyword?.share ?? 0);
  // Ties (equal fused score) go to the better semantic rank, then the better keyword rank: a stable order.
  return candidates.sort(
    (a, b) =>
      b.relevance - a.relevance ||
      (a.semantic?.rank ?? Infinity) - (b.semantic?.rank ?? Infinity) ||
      (a.keyword?.rank ?? Infinity) - (b.keyword?.rank ?? Infinity),
  );
}

export interface Signals {
  /** 0..1; the weight of recency in the final score */
  recencyWeight: number;
  recencyHalfLifeDays: number;
  /** 0..1; the weight of importance in the final score */
  importanceWeight: number;
}

export interface Scored {
  score: number;
  recency: number;
  relevanceWeight: number;
}

const DAY_MS = 86_400_000;

/**
 * The final score: score = (1 - w_r - w_i) * relevance + w_r * recency + w_i * importance, where
 * recency = 0.5 ^ (age in days / half-life) and importance is the message's own (0..1). With both
 * weights 0 (the default) the score is the relevance.
 */
export function finalScore(relevance: number, createdAtMs: number, importance: number, signals: Signals, now: number): Scored {
  const relevanceWeight = 1 - signals.recencyWeight - signals.importanceWeight;
  const ageDays = Math.max(0, now - createdAtMs) / DAY_MS;
  const recency = 0.5 ** (ageDays / signals.recencyHalfLifeDays);
  // Exactly the relevance when no signal is asked for (no floating-point drift).
  if (signals.recencyWeight === 0 && signals.importanceWeight === 0) return { score: relevance, recency, relevanceWeight };
  return {
    score: relevanceWeight * relevance + signals.recencyWeight * recency + signals.importanceWeight * importance,
    recency,
    relevanceWeight,
  };
}
