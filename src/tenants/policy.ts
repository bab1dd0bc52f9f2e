import type { RedisClient } from "../store/redis";
import { keys, tenantMember } from "../store/keys";

const DAY_MS = 86_400_000;

export interface RetentionPolicy {
  retention_days: number | null;
  updated_at: string | null;
}

export async function readPolicy(redis: RedisClient, account: string, tenant: string): Promise<RetentionPolicy> {
  const [days, updatedAt] = await redis.hmget(keys.tenantPolicy(account, tenant), "retention_days", "updated_at");
  return { retention_days: days ? Number(days) : null, updated_at: updatedAt };
}

/**
 * Sets (or, with null, removes) a tenant's retention policy; the tenant joins its shard's set of
 * tenants the expiry sweeper visits. One transaction, one slot.
 */
export async function writePolicy(redis: RedisClient, account: string, tenant: string, days: number | null): Promise<RetentionPolicy> {
  const key = keys.tenantPolicy(account, tenant);
  const member = tenantMember(account, tenant);
  const updatedAt = new Date().toISOString();
  if (days === null) await redis.multi().del(key).srem(keys.retentionTenantsOf(account), member).exec();
  else await redis.multi().hset(key, "retention_days", days, "updated_at", updatedAt).sadd(keys.retentionTenantsOf(account), member).exec();
  return { retention_days: days, updated_at: days === null ? null : updatedAt };
}

/** The creation time (ms) before which a tenant's messages are past its retention, or undefined without a policy. */
export async function retentionCutoff(redis: RedisClient, account: string, tenant: string, now = Date.now()): Promise<number | undefined> {
  const days = await redis.hget(keys.tenantPolicy(account, tenant), "retention_days");
  return cutoffOf(days, now);
}

export const cutoffOf = (days: string | number | null | undefined, now: number) => (days ? now - Number(days) * DAY_MS : undefined);
