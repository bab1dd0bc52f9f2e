import type { RedisClient } from "../store/redis";
import { conflict, unauthorized } from "../errors";
import { keys } from "../store/keys";
import { deleteMatching, eraseAccountData } from "../store/erase";
import { Script } from "../store/script";
import type { User } from "./model";
import { accountBucketOf, rateBucketOf } from "./rate-limit";
import { revocationMessage } from "./revocation";

const REGISTER = new Script(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 'email' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'username' end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'username', ARGV[3], 'password_hash', ARGV[4], 'created_at', ARGV[5])
return 'ok'
`);

/** A hash to verify against when the email is unknown, so both failures take the same time. */
let dummyHash: Promise<string> | undefined;

export function toUser(row: Record<string, string>): User {
  return { id: row.id, email: row.email, username: row.username, created_at: row.created_at };
}

export async function registerUser(
  redis: RedisClient,
  input: { email: string; username: string; password: string },
): Promise<User> {
  const id = `usr_${Bun.randomUUIDv7().replaceAll("-", "")}`;
  const email = input.email.trim();
  const passwordHash = await Bun.password.hash(input.password, { algorithm: "argon2id" });
  const createdAt = new Date().toISOString();
  const result = await REGISTER.run<string>(
    redis,
    [keys.user(id), keys.userByEmail(email), keys.userByName(input.username)],
    [id, email, input.username, passwordHash, createdAt],
  );
  if (result === "email") throw conflict("email_taken", "An account with this email already exists");
  if (result === "username") throw conflict("username_taken", "This username is taken");
  return { id, email, username: input.username, created_at: createdAt };
}

/** Unknown email and wrong password fail alike (same status, message and cost). */
export async function verifyLogin(redis: RedisClient, email: string, password: string): Promise<User> {
  const id = await redis.get(keys.userByEmail(email.trim()));
  return checkPassword(redis, id, password, "Invalid email or password (401)");
}

async function checkPassword(redis: RedisClient, userId: string | null, password: string, refusal: string): Promise<User> {
  const row = userId ? await redis.hgetall(keys.user(userId)) : {};
  if (!row.password_hash) {
    dummyHash ??= Bun.password.hash("not-a-real-password-1", { algorithm: "argon2id" });
    await Bun.password.verify(password, await dummyHash).catch(() => false);
    throw unauthorized(refusal);
  }
  const ok = await Bun.password.verify(password, row.password_hash).catch(() => false);
  if (!ok) throw unauthorized(refusal);
  return toUser(row);
}

/**
 * Deletes an account, confirmed by its password: its API keys first (so nothing new is written
 * with them), then every message, conversation and vector, then the user, which ends its access
 * and refresh tokens. Every API instance hears the deletion on the auth channel and closes the
 * account's WebSockets (4003). A failure part-way leaves the user in place, so the owner can retry.
 */
export async function deleteAccount(redis: RedisClient, userId: string, password: string, model: string): Promise<void> {
  const user = await checkPassword(redis, userId, password, "Wrong password (401)");
  const keyIds = await redis.smembers(keys.userApiKeys(userId));
  // Announced twice: when its keys go (sockets close, caches forget the keys) and when the user goes
  // (caches forget tokens verified in between).
  const gone = revocationMessage({ kind: "account", id: userId });
  const revokeKeys = redis.multi();
  if (keyIds.length > 0) revokeKeys.del(...keyIds.map(keys.apiKey));
  await revokeKeys.publish(keys.authChannel(), gone).exec();
  await eraseAccountData(redis, userId, model);
  const buckets = [accountBucketOf(userId), rateBucketOf({ account: userId }), ...keyIds.map((keyId) => rateBucketOf({ account: userId, keyId }))];
  await deleteMatching(redis, buckets.map((bucket) => keys.rateLimitWindows(keys.accountRateTag(userId), bucket)));
  await redis
    .multi()
    .del(keys.user(userId), keys.userApiKeys(userId), keys.userByEmail(user.email), keys.userByName(user.username))
    .publish(keys.authChannel(), gone)
    .exec();
}

export async function getUser(redis: RedisClient, userId: string): Promise<User | undefined> {
  const row = await redis.hgetall(keys.user(userId));
  return row.id ? toUser(row) : undefined;
}
