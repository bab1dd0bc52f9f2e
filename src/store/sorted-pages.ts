import type { RedisClient } from "./redis";

/** A position in a sorted set: after (or, newest first, before) this member with this score. */
export interface SortedPosition {
  score: number;
  member: string;
}

export interface SortedRange {
  /** lowest score (inclusive), highest score (exclusive); absent = unbounded */
  min?: number;
  maxExclusive?: number;
  /** highest scores first */
  reverse?: boolean;
  /** continue after this entry (which need not exist any more) */
  after?: SortedPosition;
}

/**
 * Up to `count` entries of a sorted set in (score, member) order, as Redis keeps it, after a
 * position: a cursor that stays right while entries are added or removed, since it names a place
 * in the order rather than an offset. Ties on the score are rare here (scores carry the position
 * in the request), so the loop that skips the tied entries already seen runs once.
 */
export async function sortedPage(redis: RedisClient, key: string, range: SortedRange, count: number): Promise<SortedPosition[]> {
  const { after, reverse } = range;
  const low = reverse ? (range.min ?? "-inf") : after ? String(after.score) : (range.min ?? "-inf");
  const highBound = range.maxExclusive === undefined ? "+inf" : `(${range.maxExclusive}`;
  const high = reverse ? (after ? String(after.score) : highBound) : highBound;
  const out: SortedPosition[] = [];
  for (let offset = 0; out.length < count; ) {
    const want = count - out.length + (after ? 1 : 0);
    const flat = reverse
      ? await redis.zrevrangebyscore(key, high, low, "WITHSCORES", "LIMIT", offset, want)
      : await redis.zrangebyscore(key, low, high, "WITHSCORES", "LIMIT", offset, want);
    for (let i = 0; i + 1 < flat.length && out.length < count; i += 2) {
      const entry = { member: flat[i], score: Number(flat[i + 1]) };
      if (after && entry.score === after.score) {
        // tied scores: Redis orders the members by their bytes
        const order = Buffer.compare(Buffer.from(entry.member), Buffer.from(after.member));
        if (reverse ? order >= 0 : order <= 0) continue;
      }
      out.push(entry);
    }
    if (flat.length < want * 2) break;
    offset += flat.length / 2;
  }
  return out;
}
