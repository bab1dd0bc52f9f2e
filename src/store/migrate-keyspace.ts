import type { Logger } from "../log";
import { keys, parseOutboxMember, shardOf } from "./keys";
import { mastersOf, type RedisClient, scanKeys } from "./redis";

/**
 * Moves a deployment's keys from the single-Redis layout (before shards: `mm:msg:<account>:...`,
 * one `mm:outbox`, ...) to the sharded one, in place, on the Redis that holds them. Run it with the
 * API and workers stopped, then start the new version (or import into a cluster). Safe to re-run:
 * keys of the old layout are what it looks for, and it leaves none behind; a key whose new name is
 * already taken is kept under its old name and counted as a conflict.
 *
 * - account data (messages, conversations, tenants, exact vectors, Query Engine documents) and auth
 *   records (users, their indexes, API keys) are renamed;
 * - the one outbox, dispatch list and stats hash are split into their shards' (stats summed);
 * - refresh tokens, rate counters, login counters and the old BullMQ queue are dropped: users sign
 *   in again, and messages still pending are queued again by the outbox sweeper.
 */
export interface MigrationReport {
  renamed: number;
  conflicts: number;
  dropped: number;
  outbox: number;
  dispatch: number;
}

/** Old account-scoped kinds, as `mm:<kind>:<account>...`. */
const ACCOUNT_KINDS = ["msg", "tenants", "conv", "convs", "conv-tenants", "conv-msgs"];
const AUTH_KINDS = ["user", "user-email", "user-name", "user-keys", "api-key"];
const DROPPED = ["mm:refresh:*", "mm:refresh-family:*", "mm:rate:*", "mm:bull:*", "mm:outbox-lock"];

export async function migrateKeyspace(redis: RedisClient, log?: Logger): Promise<MigrationReport> {
  if (mastersOf(redis).length > 1) throw new Error("migrate the single Redis first, then import it into the cluster");
  const report: MigrationReport = { renamed: 0, conflicts: 0, dropped: 0, outbox: 0, dispatch: 0 };
  const move = async (from: string, to: string) => {
    if ((await redis.renamenx(from, to)) === 1) report.renamed++;
    else report.conflicts++;
  };
  const accountOf = (rest: string) => rest.slice(0, rest.indexOf(":") < 0 ? undefined : rest.indexOf(":"));

  for (const kind of ACCOUNT_KINDS) {
    for await (const found of scanKeys(redis, `mm:${kind}:*`)) {
      for (const key of found) {
        const rest = key.slice(`mm:${kind}:`.length);
        await move(key, `${keys.accountTag(accountOf(rest))}:${kind}:${rest}`);
      }
    }
  }
  for (const kind of AUTH_KINDS) {
    for await (const found of scanKeys(redis, `mm:${kind}:*`)) {
      for (const key of found) await move(key, `mm:{auth}:${kind}:${key.slice(`mm:${kind}:`.length)}`);
    }
  }
  // Vectors: `mm:vecx:<model>:<account>:<tenant>` and Query Engine documents `mm:vec:<model>:<account>:...`.
  for await (const found of scanKeys(redis, "mm:vecx:*")) {
    for (const key of found) {
      const [model, ...rest] = key.slice("mm:vecx:".length).split(":");
      const tail = rest.join(":");
      await move(key, `${keys.accountTag(accountOf(tail))}:vecx:${model}:${tail}`);
    }
  }
  for await (const found of scanKeys(redis, "mm:vec:*")) {
    for (const key of found) {
      const [model, account, ...rest] = key.slice("mm:vec:".length).split(":");
      if (account.startsWith("{")) continue; // already in the new layout
      const tag = keys.accountTag(account).slice("mm:".length);
      await move(key, `mm:vec:${model}:${tag}:${account}:${rest.join(":")}`);
    }
  }

  // The one outbox, dispatch list and stats, split by shard.
  const outbox = await redis.zrange("mm:outbox", "0", "-1", "WITHSCORES");
  for (let i = 0; i < outbox.length; i += 2) {
    await redis.zadd(keys.outbox(shardOf(parseOutboxMember(outbox[i]).account)), outbox[i + 1], outbox[i]);
    report.outbox++;
  }
  const dispatch = await redis.lrange("mm:dispatch", 0, -1);
  for (const member of dispatch) await redis.rpush(keys.dispatch(shardOf(parseOutboxMember(member).account)), member);
  report.dispatch = dispatch.length;
  const stats = await redis.hgetall("mm:stats");
  for (const [field, value] of Object.entries(stats)) await redis.hincrby(keys.stats(0), field, Number(value));
  await redis.del("mm:outbox", "mm:dispatch", "mm:stats");

  for (const pattern of DROPPED) {
    for await (const found of scanKeys(redis, pattern)) report.dropped += await redis.unlink(...found);
  }
  log?.info({ ...report }, "keyspace migrated");
  return report;
}

/**
 * Builds each tenant's time index and counts by status (keys.tenantMessages, keys.tenantStats)
 * from its conversations, for messages stored before they existed; on one Redis or a cluster (it
 * finds tenants by SCAN on every master). Rebuilt from scratch each time, so safe to re-run; run
 * it with the API and workers stopped. Returns how many tenants and messages it indexed.
 */
export async function rebuildTenantIndexes(redis: RedisClient, log?: Logger): Promise<{ tenants: number; messages: number }> {
  const report = { tenants: 0, messages: 0 };
  for await (const found of scanKeys(redis, keys.allTenantSets())) {
    for (const set of found) {
      const account = keys.accountOfTenantSet(set);
      for (const tenant of await redis.smembers(set)) {
        const index = keys.tenantMessages(account, tenant);
        const stats = keys.tenantStats(account, tenant);
        await redis.del(index, stats);
        for (const conversation of await redis.zrange(keys.conversations(account, tenant), "0", "-1")) {
          const listed = await redis.zrange(keys.conversationMessages(account, tenant, conversation), "0", "-1", "WITHSCORES");
          for (let i = 0; i < listed.length; i += 1000) {
            const part = listed.slice(i, i + 1000);
            const ids = part.filter((_, j) => j % 2 === 0);
            const statuses = await Promise.all(ids.map((id) => redis.hget(keys.message(account, id), "status")));
            const multi = redis.multi();
            ids.forEach((id, j) => {
              if (!statuses[j]) return;
              multi.zadd(index, part[j * 2 + 1], id);
              multi.hincrby(stats, statuses[j] as string, 1);
              report.messages++;
            });
            await multi.exec();
          }
        }
        report.tenants++;
      }
    }
  }
  log?.info(report, "tenant indexes rebuilt");
  return report;
}
