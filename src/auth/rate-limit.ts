import type { Redis } from "ioredis";
import { keys } from "../store/keys";
import { Script } from "../store/script";

/**
 * Fixed-window counter in Redis, so every API instance shares it. A request that would pass the
 * limit is refused without being counted.
 */
const TAKE = new Script(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if current + cost > limit then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[3]) end
  return {0, current, ttl}
end
current = redis.call('INCRBY', KEYS[1], cost)
if current == cost then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, current, redis.call('PTTL', KEYS[1])}
`);

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** seconds until the window resets */
  resetS: number;
}

export async function takeRate(redis: Redis, bucket: string, limit: number, windowS: number, cost = 1): Promise<RateDecision> {
  const windowMs = windowS * 1000;
  const window = Math.floor(Date.now() / windowMs);
  const [allowed, used, ttl] = await TAKE.run<[number, number, number]>(redis, [keys.rateLimit(bucket, window)], [cost, limit, windowMs]);
  return { allowed: allowed === 1, limit, remaining: Math.max(0, limit - used), resetS: Math.max(1, Math.ceil(ttl / 1000)) };
}

export function rateHeaders(d: RateDecision): Record<string, string> {
  return { "RateLimit-Limit": String(d.limit), "RateLimit-Remaining": String(d.remaining), "RateLimit-Reset": String(d.resetS) };
}
