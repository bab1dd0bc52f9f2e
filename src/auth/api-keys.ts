import type { RedisClient } from "../store/redis";
import { conflict, notFound } from "../errors";
import { keys } from "../store/keys";
import { Script } from "../store/script";
import type { ApiKeyInfo, CreatedApiKey, Principal, Scope } from "./model";
import { timingSafeEqual } from "node:crypto";
import { hashSecret, hashSecretBytes, randomHexId, randomSecret } from "./secrets";
import { revocationMessage } from "./revocation";

const KEY_FORMAT = /^mm_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$/;
/** `last_used_at` is written at most this often per key, so a busy key costs no extra write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

function toInfo(row: Record<string, string>): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as Scope[],
    tenant_ids: row.tenant_ids ? (JSON.parse(row.tenant_ids) as string[] | null) : null,
    created_at: row.created_at,
    expires_at: row.expires_at || null,
    last_used_at: row.last_used_at || null,
  };
}

/** Stores a key and adds it to its user's set, unless the user already has `cap` keys. */
const CREATE_KEY = new Script(`
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
`);

/**
 * Creates an API key for a user; a user holds at most `cap` keys (revoked ones do not count), since
 * every key has a rate budget of its own. Past the cap: 409 `api_key_limit`.
 */
export async function createApiKey(
  redis: RedisClient,
  userId: string,
  input: { name: string; expiresDays?: number; tenantIds?: string[]; scopes?: Scope[] },
  cap: number,
): Promise<CreatedApiKey> {
  const id = randomHexId(8);
  const prefix = `mm_${id}`;
  const secret = randomSecret(32);
  const now = new Date();
  const expiresAt = input.expiresDays ? new Date(now.getTime() + input.expiresDays * 86_400_000).toISOString() : "";
  const scopes = [...new Set(input.scopes ?? (["read", "write"] as Scope[]))];
  const tenantIds = input.tenantIds ? [...new Set(input.tenantIds)] : null;
  const row: Record<string, string> = {
    id, user_id: userId, name: input.name, prefix, hash: hashSecret(secret),
    scopes: JSON.stringify(scopes), tenant_ids: JSON.stringify(tenantIds), created_at: now.toISOString(),
    expires_at: expiresAt, last_used_at: "",
  };
  const created = await CREATE_KEY.run<number>(redis, [keys.apiKey(id), keys.userApiKeys(userId)], [cap, id, ...Object.entries(row).flat()]);
  if (created !== 1) throw conflict("api_key_limit", `At most ${cap} API keys per account; revoke one first`, { limit: cap });
  const { last_used_at: _, ...info } = toInfo(row);
  return { ...info, key: `${prefix}_${secret}` };
}

export async function listApiKeys(redis: RedisClient, userId: string): Promise<ApiKeyInfo[]> {
  const ids = await redis.smembers(keys.userApiKeys(userId));
  const rows = await Promise.all(ids.map((id) => redis.hgetall(keys.apiKey(id))));
  return rows.filter((r) => r.id && r.user_id === userId).map(toInfo).sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/**
 * Keys verified recently, by key id, so a busy key costs no Redis lookup per request. An entry
 * holds the secret's hash (never the secret) and lives `ttlMs` at most (never past the key's own
 * expiry). Revoking evicts it here at once; other API instances evict it when the revocation
 * reaches them on the auth channel, and their TTL bounds the delay if that message is missed.
 */
export interface ApiKeyCache {
  get(id: string): { principal: Principal; hash: Buffer } | undefined;
  set(id: string, principal: Principal, hash: Buffer, expiresAtMs: number): void;
  evict(id: string): void;
  /** Evicts every key of an account (it was deleted). */
  evictAccount(account: string): void;
}

export function createApiKeyCache(ttlMs: number, maxEntries = 10_000): ApiKeyCache {
  const entries = new Map<string, { principal: Principal; hash: Buffer; until: number }>();
  return {
    get(id) {
      const entry = entries.get(id);
      if (!entry) return undefined;
      if (entry.until > Date.now()) return entry;
      entries.delete(id);
      return undefined;
    },
    set(id, principal, hash, expiresAtMs) {
      if (ttlMs <= 0) return;
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(id, { principal, hash, until: Math.min(Date.now() + ttlMs, expiresAtMs) });
    },
    evict(id) {
      entries.delete(id);
    },
    evictAccount(account) {
      for (const [id, entry] of entries) if (entry.principal.account === account) entries.delete(id);
    },
  };
}

export async function revokeApiKey(redis: RedisClient, cache: ApiKeyCache, userId: string, keyId: string): Promise<void> {
  const owner = await redis.hget(keys.apiKey(keyId), "user_id");
  if (owner !== userId) throw notFound("API key");
  await redis.multi().del(keys.apiKey(keyId)).srem(keys.userApiKeys(userId), keyId).publish(keys.authChannel(), revocationMessage({ kind: "api_key", id: keyId })).exec();
  cache.evict(keyId);
}

/** Looks a key up by its id (never by scanning), checks its hash and expiry. */
export async function principalFromApiKey(redis: RedisClient, cache: ApiKeyCache, presented: string): Promise<Principal | undefined> {
  const match = KEY_FORMAT.exec(presented);
  if (!match) return undefined;
  const [, id, secret] = match;
  const digest = hashSecretBytes(secret);
  const cached = cache.get(id);
  if (cached && timingSafeEqual(cached.hash, digest)) return cached.principal;
  const row = await redis.hgetall(keys.apiKey(id));
  const stored = Buffer.from(row.hash ?? "", "hex");
  if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) return undefined;
  const now = Date.now();
  const expiresAt = row.expires_at ? Date.parse(row.expires_at) : Number.POSITIVE_INFINITY;
  if (expiresAt <= now) return undefined;
  if (!row.last_used_at || now - Date.parse(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
    redis.hset(keys.apiKey(id), "last_used_at", new Date(now).toISOString()).catch(() => undefined);
  }
  const info = toInfo(row);
  const principal: Principal = { account: row.user_id, kind: "api_key", keyId: id, scopes: info.scopes, tenants: info.tenant_ids };
  if (Number.isFinite(expiresAt)) principal.expiresAt = expiresAt;
  cache.set(id, principal, stored, expiresAt);
  return principal;
}
