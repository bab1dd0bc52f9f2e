import type { RedisClient } from "../store/redis";
import { keys } from "../store/keys";
import { Script } from "../store/script";

/**
 * Fixed-window counter in Redis, so every API instance shares it: one key per window, counted up
 * by the cost and given back when that passes the limit (a refused request is not counted). The
 * window's end is known from its number, so no TTL is read. Kept as a Lua function so scripts that
 * do the request's work (accepting messages) can charge it in the same round trip.
 */
export const TAKE_RATE_LUA = `
local function take_rate(key, cost, limit, window_ms)
  local used = redis.call('INCRBY', key, cost)
  if used == cost then redis.call('PEXPIRE', key, window_ms) end
  if used > limit then return 0, redis.call('DECRBY', key, cost) end
  return 1, used
end
-- A caller's credential budget (k1) and its account's (k2), both or neither. Answers allowed, and
-- the use and limit of the budget that refused, or else of the one with less left.
local function take_rates(k1, l1, k2, l2, cost, window_ms)
  local ok1, used1 = take_rate(k1, cost, l1, window_ms)
  if ok1 == 0 then return 0, used1, l1 end
  local ok2, used2 = take_rate(k2, cost, l2, window_ms)
  if ok2 == 0 then
    redis.call('DECRBY', k1, cost)
    return 0, used2, l2
  end
  if l2 - used2 < l1 - used1 then return 1, used2, l2 end
  return 1, used1, l1
end
`;

const TAKE = new Script(`${TAKE_RATE_LUA}
return {take_rate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
`);

const TAKE_BOTH = new Script(`${TAKE_RATE_LUA}
return {take_rates(KEYS[1], tonumber(ARGV[2]), KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[1]), tonumber(ARGV[4]))}
`);

/** A caller's own rate budget: its API key's, or its account's for a user token. */
export const rateBucketOf = (p: { account: string; keyId?: string }) => (p.keyId ? `key:${p.keyId}` : `user:${p.account}`);
/** The budget every credential of an account draws on as well. */
export const accountBucketOf = (account: string) => `account:${account}`;

/** A charge against a rate budget: the key of the current window and what to take from it. */
export interface RateCharge {
  key: string;
  cost: number;
  limit: number;
  windowMs: number;
  /** when the current window ends (ms since the epoch) */
  resetAt: number;
  /** a second budget charged with the first, both or neither (the caller's account) */
  also?: { key: string; limit: number };
}

/** A charge to `bucket`, whose counters carry hash tag `tag` (the slot of the keys charged with it). */
export function rateCharge(tag: string, bucket: string, limit: number, windowS: number, cost = 1): RateCharge {
  const windowMs = windowS * 1000;
  const window = Math.floor(Date.now() / windowMs);
  return { key: keys.rateLimit(tag, bucket, window), cost, limit, windowMs, resetAt: (window + 1) * windowMs };
}

/** A charge to a caller: its credential's budget and its account's. */
export type CallerCharge = RateCharge & { also: { key: string; limit: number } };

/** What `take_rate` ({allowed, used}) or `take_rates` ({allowed, used, limit}) answered, as a decision. */
export function rateDecision(charge: RateCharge, [allowed, used, binding]: number[]): RateDecision {
  const limit = binding ?? charge.limit;
  const resetS = Math.max(1, Math.ceil((charge.resetAt - Date.now()) / 1000));
  return { allowed: allowed === 1, limit, remaining: Math.max(0, limit - used), resetS };
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** seconds until the window resets */
  resetS: number;
}

export async function takeRate(redis: RedisClient, charge: RateCharge): Promise<RateDecision> {
  const { key, cost, limit, windowMs, also } = charge;
  const reply = also
    ? await TAKE_BOTH.run<number[]>(redis, [key, also.key], [cost, limit, also.limit, windowMs])
    : await TAKE.run<number[]>(redis, [key], [cost, limit, windowMs]);
  return rateDecision(charge, reply);
}

export function rateHeaders(d: RateDecision): Record<string, string> {
  return { "RateLimit-Limit": String(d.limit), "RateLimit-Remaining": String(d.remaining), "RateLimit-Reset": String(d.resetS) };
}
