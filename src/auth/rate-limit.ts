import type { Redis } from "ioredis";
import { keys } from "../store/keys";
import { Script } from "../store/script";

/**
 * Fixed-window counter in Redis, so every API instance shares it. A request that would pass the
 * limit is refused without being counted. Kept as a Lua function so scripts that do the request's
 * work (accepting messages) can charge it in the same round trip.
 */
export const TAKE_RATE_LUA = `
local function take_rate(key, cost, limit, window_ms)
  local current = tonumber(redis.call('GET', key) or '0')
  if current + cost > limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = window_ms end
    return 0, current, ttl
  end
  current = redis.call('INCRBY', key, cost)
  if current == cost then redis.call('PEXPIRE', key, window_ms) end
  return 1, current, redis.call('PTTL', key)
end
`;

const TAKE = new Script(`${TAKE_RATE_LUA}
return {take_rate(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
`);

/** A charge against a rate budget: the key of the current window and what to take from it. */
export interface RateCharge {
  key: string;
  cost: number;
  limit: number;
  windowMs: number;
}

export function rateCharge(bucket: string, limit: number, windowS: number, cost = 1): RateCharge {
  const windowMs = windowS * 1000;
  return { key: keys.rateLimit(bucket, Math.floor(Date.now() / windowMs)), cost, limit, windowMs };
}

/** What `take_rate` answered ({allowed, used, ttl ms}) as a decision. */
export function rateDecision(charge: RateCharge, [allowed, used, ttl]: number[]): RateDecision {
  const { limit } = charge;
  return { allowed: allowed === 1, limit, remaining: Math.max(0, limit - used), resetS: Math.max(1, Math.ceil(ttl / 1000)) };
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** seconds until the window resets */
  resetS: number;
}

export async function takeRate(redis: Redis, bucket: string, limit: number, windowS: number, cost = 1): Promise<RateDecision> {
  const charge = rateCharge(bucket, limit, windowS, cost);
  const reply = await TAKE.run<number[]>(redis, [charge.key], [cost, limit, charge.windowMs]);
  return rateDecision(charge, reply);
}

export function rateHeaders(d: RateDecision): Record<string, string> {
  return { "RateLimit-Limit": String(d.limit), "RateLimit-Remaining": String(d.remaining), "RateLimit-Reset": String(d.resetS) };
}
