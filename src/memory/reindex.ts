import type { Deps } from "../deps";
import { keys, outboxMember } from "../store/keys";
import { chunk } from "../store/queue";
import { queueIndexJobs } from "./jobs";

export type ReindexMode = "failed" | "pending" | "all";

/**
 * Queues a tenant's messages again: `failed` ones (retry), `pending` ones (stuck), or `all`
 * (re-embed everything, e.g. after a model change). Walks the tenant's conversations, never the
 * keyspace.
 */
export async function reindexTenant(deps: Deps, account: string, tenant: string, mode: ReindexMode): Promise<number> {
  const { redis } = deps;
  const conversations = await redis.zrange(keys.conversations(account, tenant), "0", "-1");
  let queued = 0;
  for (const conversation of conversations) {
    const ids = await redis.zrange(keys.conversationMessages(account, tenant, conversation), "0", "-1");
    const selected: string[] = [];
    for (const part of chunk(ids, 500)) {
      const statuses = await Promise.all(part.map((id) => redis.hget(keys.message(account, id), "status")));
      part.forEach((id, i) => {
        if (statuses[i] && (mode === "all" || statuses[i] === mode)) selected.push(id);
      });
    }
    if (selected.length === 0) continue;
    const multi = redis.multi();
    for (const id of selected) {
      // pending again (also for `all`), so the outbox sweeper keeps watching it until re-indexed
      multi.hset(keys.message(account, id), "status", "pending");
      multi.hdel(keys.message(account, id), "error");
      multi.zadd(keys.outbox(), Date.now(), outboxMember(account, id));
    }
    await multi.exec();
    queued += await queueIndexJobs(deps, [{ account, ids: selected }], mode === "all");
  }
  return queued;
}
