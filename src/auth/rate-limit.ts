import type { Redis } from "ioredis";
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
`;

const TAKE = new Script(`${TAKE_RATE_LUA}
return {take_rate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
`);

/** A caller's own rate budget: its API key's, or its account's for a user token. */
export const rateBucketOf = (p: { account: string; keyId?: string }) => (p.keyId ? `key:${p.keyId}` : `user:${p.account}`);

/** A charge against a rate budget: the key of the current window and what to take from it. */
export interface RateCharge {
  key: string;
  cost: number;
  limit: number;
  windowMs: number;
  /** when the current window ends (ms since the epoch) */
  resetAt: number;
}

export function rateCharge(bucket: string, limit: number, windowS: number, cost = 1): RateCharge {
  const windowMs = windowS * 1000;
  const window = Math.floor(Date.now() / windowMs);
  return { key: keys.rateLimit(bucket, window), cost, limit, windowMs, resetAt: (window + 1) * windowMs };
}

/** What `take_rate` answered ({allowed, used}) as a decision. */
export function rateDecision(charge: RateCharge, [allowed, used]: number[]): RateDecision {
  const { limit } = charge;
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

export async function takeRate(redis: Redis, charge: RateCharge): Promise<RateDecision> {
  const reply = await TAKE.run<number[]>(redis, [charge.key], [charge.cost, charge.limit, charge.windowMs]);
  return rateDecision(charge, reply);
}

export function rateHeaders(d: RateDecision): Record<string, string> {
  return { "RateLimit-Limit": String(d.limit), "RateLimit-Remaining": String(d.remaining), "RateLimit-Reset": String(d.resetS) };
}
