import type { VectorHit } from "./vector-index";

/** BM25 constants of both engines, as the Query Engine's BM25STD (Robertson/Sparck Jones). */
const BM25_K1 = 1.2;
const BM25_B = 0.75;

/** A message matching some query terms: each term's frequency in it, and its length in tokens. */
export interface Bm25Candidate {
  messageId: string;
  tf: number[];
  length: number;
}

/**
 * BM25 (k1 1.2, b 0.75) of candidates given their query-term frequencies and lengths, the
 * collection's document count, each term's document frequency and the average length; best
 * `depth` first. idf = ln(1 + (N - df + 0.5) / (df + 0.5)). Each hit also carries its coverage:
 * the IDF of the query terms it matches over the IDF of all of them.
 */
export function bm25Top(candidates: Bm25Candidate[], df: number[], documents: number, averageLength: number, depth: number): VectorHit[] {
  const top: VectorHit[] = [];
  const idf = df.map((n) => Math.log(1 + (documents - n + 0.5) / (n + 0.5)));
  const totalIdf = idf.reduce((sum, x) => sum + x, 0);
  for (const c of candidates) {
    const norm = BM25_K1 * (1 - BM25_B + (averageLength > 0 ? (BM25_B * c.length) / averageLength : 0));
    let score = 0;
    let matched = 0;
    c.tf.forEach((f, j) => {
      if (f === 0) return;
      score += (idf[j] * f * (BM25_K1 + 1)) / (f + norm);
      matched += idf[j];
    });
    insertTop(top, { messageId: c.messageId, score, coverage: totalIdf > 0 ? matched / totalIdf : 1 }, depth);
  }
  return top;
}

/** Inserts into a list kept sorted best first and at most `depth` long. */
export function insertTop(top: VectorHit[], hit: VectorHit, depth: number): void {
  if (top.length >= depth && hit.score <= top[top.length - 1].score) return;
  let at = top.length;
  while (at > 0 && top[at - 1].score < hit.score) at--;
  top.splice(at, 0, hit);
  if (top.length > depth) top.pop();
}

