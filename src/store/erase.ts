import { type RedisClient, scanKeys, unlinkKeys } from "./redis";
import { globEscape, keys } from "./keys";

const SCAN_STEP = 500;

/**
 * Deletes every key matching the patterns, on every master, walking the key space with SCAN and
 * UNLINK in small steps, so no single command holds Redis up. Returns how many went.
 */
export async function deleteMatching(redis: RedisClient, patterns: string[]): Promise<number> {
  let deleted = 0;
  for (const pattern of patterns) for await (const found of scanKeys(redis, pattern)) deleted += await unlinkKeys(redis, found);
  return deleted;
}

/** Removes an account's entries from the outbox (messages accepted and not yet indexed). */
export async function removeOutboxEntries(redis: RedisClient, account: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, flat] = await redis.zscan(keys.outboxOf(account), cursor, "MATCH", `${globEscape(account)}:*`, "COUNT", SCAN_STEP);
    cursor = next;
    const members = flat.filter((_, i) => i % 2 === 0);
    if (members.length > 0) await redis.zrem(keys.outboxOf(account), ...members);
  } while (cursor !== "0");
}

/** Every message, conversation and vector of an account (of the vectors of `model`), and its outbox entries. */
export async function eraseAccountData(redis: RedisClient, account: string, model: string): Promise<number> {
  await removeOutboxEntries(redis, account);
  return deleteMatching(redis, keys.accountDataPatterns(account, model));
}
