import type { Redis } from "ioredis";
import { globEscape, keys } from "./keys";

const SCAN_STEP = 500;

/**
 * Deletes every key matching the patterns, walking the key space with SCAN and UNLINK in small
 * steps, so no single command holds Redis up whatever the number of keys. Returns how many went.
 */
export async function deleteMatching(redis: Redis, patterns: string[]): Promise<number> {
  let deleted = 0;
  for (const pattern of patterns) {
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", SCAN_STEP);
      cursor = next;
      if (found.length > 0) deleted += await redis.unlink(...found);
    } while (cursor !== "0");
  }
  return deleted;
}

/** Removes an account's entries from the outbox (messages accepted and not yet indexed). */
export async function removeOutboxEntries(redis: Redis, account: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, flat] = await redis.zscan(keys.outbox(), cursor, "MATCH", `${globEscape(account)}:*`, "COUNT", SCAN_STEP);
    cursor = next;
    const members = flat.filter((_, i) => i % 2 === 0);
    if (members.length > 0) await redis.zrem(keys.outbox(), ...members);
  } while (cursor !== "0");
}

/** Every message, conversation and vector of an account (of the vectors of `model`), and its outbox entries. */
export async function eraseAccountData(redis: Redis, account: string, model: string): Promise<number> {
  await removeOutboxEntries(redis, account);
  return deleteMatching(redis, keys.accountDataPatterns(account, model));
}
