import { jwt } from "@elysiajs/jwt";
import type { RedisClient } from "../store/redis";
import type { Config } from "../config";
import { unauthorized } from "../errors";
import { keys } from "../store/keys";
import { Script } from "../store/script";
import type { TokenPair } from "./model";
import { hashSecret, randomHexId, randomSecret, sameHash } from "./secrets";

interface JwtSigner {
  sign(payload: Record<string, string | number>): Promise<string>;
  verify(token?: string, options?: { algorithms: string[] }): Promise<Record<string, unknown> | false>;
}

export interface VerifiedAccess {
  account: string;
  /** ms since the epoch */
  expiresAt: number;
}

export interface Tokens {
  issue(redis: RedisClient, userId: string, familyId?: string): Promise<TokenPair>;
  /**
   * The account and expiry of a valid access token whose account still exists, or undefined. Only
   * HS256 is accepted (no `none`, no other alg).
   */
  verifyAccess(redis: RedisClient, token: string): Promise<VerifiedAccess | undefined>;
  /** Forgets this process's verdicts on an account's tokens (the account was deleted). */
  forgetAccount(userId: string): void;
  rotate(redis: RedisClient, refreshToken: string): Promise<TokenPair>;
  revoke(redis: RedisClient, refreshToken: string): Promise<void>;
}

/**
 * Marks a refresh token used. A token presented a second time means it leaked (or a client raced):
 * the whole family is revoked, so the thief's copy and the owner's newer token both stop working.
 */
const ROTATE = new Script(`
if redis.call('HGET', KEYS[2], 'revoked') == '1' then return 'revoked' end
if redis.call('HGET', KEYS[1], 'used') == '1' then
  redis.call('HSET', KEYS[2], 'revoked', '1')
  return 'reused'
end
redis.call('HSET', KEYS[1], 'used', '1')
return 'ok'
`);

/** `rt_<family><id>.<secret>`: the family id leads the token id, so both keys share a slot. */
function parseRefresh(token: string): { family: string; id: string; secret: string } | undefined {
  const match = /^rt_([0-9a-f]{32})([0-9a-f]{32})\.([A-Za-z0-9_-]{20,100})$/.exec(token);
  return match ? { family: match[1], id: match[2], secret: match[3] } : undefined;
}

const MAX_VERIFIED = 10_000;

export function createTokens(config: Config): Tokens {
  const plugin = jwt({ name: "jwt", secret: config.JWT_SECRET, alg: "HS256" });
  const signer = (plugin as unknown as { singleton: { decorator: { jwt: JwtSigner } } }).singleton.decorator.jwt;
  const refreshTtl = config.REFRESH_TOKEN_TTL_S;
  // Access tokens this process verified, by SHA-256 of the token, until they expire. Verifying with
  // jose costs ~100 us of CPU (5x the rest of an ingest request) and a client sends the same token
  // for its whole 15 minutes. An access token cannot be revoked before it expires, so remembering
  // the verdict changes nothing about who gets in; a changed token is a different key. Deleting an
  // account reaches every instance on the auth channel, which calls forgetAccount.
  const verified = new Map<string, { sub: string; exp: number }>();

  async function loadRefresh(redis: RedisClient, token: string) {
    const parsed = parseRefresh(token);
    if (!parsed) return undefined;
    const row = await redis.hgetall(keys.refreshToken(parsed.family, parsed.id));
    if (!row.hash || !sameHash(row.hash, hashSecret(parsed.secret))) return undefined;
    return { id: parsed.id, family: parsed.family, row };
  }

  const tokens: Tokens = {
    async issue(redis, userId, familyId = randomHexId(16)) {
      const now = Math.floor(Date.now() / 1000);
      const access = await signer.sign({ sub: userId, typ: "access", jti: randomHexId(8), exp: now + config.ACCESS_TOKEN_TTL_S });
      const id = randomHexId(16);
      const secret = randomSecret(32);
      await redis
        .multi()
        .hset(keys.refreshToken(familyId, id), "user_id", userId, "family", familyId, "hash", hashSecret(secret), "used", "0")
        .expire(keys.refreshToken(familyId, id), refreshTtl)
        .hsetnx(keys.refreshFamily(familyId), "revoked", "0")
        .expire(keys.refreshFamily(familyId), refreshTtl)
        .exec();
      return { access_token: access, refresh_token: `rt_${familyId}${id}.${secret}`, token_type: "bearer", expires_in: config.ACCESS_TOKEN_TTL_S };
    },
    async verifyAccess(redis, token) {
      const key = hashSecret(token);
      const hit = verified.get(key);
      if (hit) {
        if (hit.exp * 1000 > Date.now()) return { account: hit.sub, expiresAt: hit.exp * 1000 };
        verified.delete(key);
      }
      const payload = await signer.verify(token, { algorithms: ["HS256"] });
      if (!payload || payload.typ !== "access" || typeof payload.sub !== "string" || typeof payload.exp !== "number") return undefined;
      // A deleted account's tokens stop working at once, not when they expire.
      if ((await redis.exists(keys.user(payload.sub))) === 0) return undefined;
      if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string);
      verified.set(key, { sub: payload.sub, exp: payload.exp });
      return { account: payload.sub, expiresAt: payload.exp * 1000 };
    },
    forgetAccount(userId) {
      for (const [key, entry] of verified) if (entry.sub === userId) verified.delete(key);
    },
    async rotate(redis, refreshToken) {
      const found = await loadRefresh(redis, refreshToken);
      if (!found) throw unauthorized("Invalid or expired refresh token (401)");
      // The user is checked on its own (its key is in another slot): a deleted account rotates no more.
      if ((await redis.exists(keys.user(found.row.user_id))) === 0) throw unauthorized("Refresh token was revoked (401)");
      const result = await ROTATE.run<string>(redis, [keys.refreshToken(found.family, found.id), keys.refreshFamily(found.family)], []);
      if (result === "reused") throw unauthorized("Refresh token was already used; all sessions of this login are revoked (401)");
      if (result !== "ok") throw unauthorized("Refresh token was revoked (401)");
      return tokens.issue(redis, found.row.user_id, found.row.family);
    },
    async revoke(redis, refreshToken) {
      const found = await loadRefresh(redis, refreshToken);
      if (!found) return;
      await redis.hset(keys.refreshFamily(found.row.family), "revoked", "1");
    },
  };
  return tokens;
}
