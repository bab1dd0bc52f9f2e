import type { Queue } from "bullmq";
import { conflict } from "../errors";
import { keys, outboxMember } from "../store/keys";
import { chunk, queueOf } from "../store/queue";
import { Script } from "../store/script";
import { MOVE_STATUS_LUA } from "../messages/status";
import { isJobAlive, type JobDeps, queueIndexJobs } from "./jobs";

/**
 * Makes messages pending again (with their tenant's counts) and puts them back in the outbox.
 * KEYS: outbox, tenant stats, the messages. ARGV: now, their outbox members.
 */
const REQUEUE = new Script(`${MOVE_STATUS_LUA}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    move_status(KEYS[i], KEYS[2], 'pending')
    redis.call('HDEL', KEYS[i], 'error')
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i - 1])
  end
end
return 0
`);

export type ReindexMode = "failed" | "pending" | "all";

/** How long a reindex's claim on its tenant lasts at most: its walk, then its jobs until they have run. */
const WALK_CLAIM_MS = 10 * 60_000;
const JOBS_CLAIM_MS = 24 * 3_600_000;

interface Claim {
  started_at: string;
  queued?: number;
  job_ids?: string[];
}

export interface ReindexOptions {
  /** Called with the number of messages selected, before any is queued; throws to queue none. */
  charge?: (messages: number) => Promise<void>;
}

/**
 * Queues a tenant's messages again: `failed` ones (retry), `pending` ones (stuck), or `all`
 * (re-embed everything, e.g. after a model change). Walks the tenant's conversations, never the
 * keyspace. One reindex runs per tenant at a time: from its walk until its jobs have run, another
 * is refused with 409 `reindex_running`.
 */
export async function reindexTenant(deps: JobDeps, account: string, tenant: string, mode: ReindexMode, options: ReindexOptions = {}): Promise<number> {
  const { redis } = deps;
  const claimKey = keys.reindexClaim(account, tenant);
  await claimTenant(deps, claimKey, queueOf(deps.queues, account));
  try {
    const selected = await selectMessages(deps, account, tenant, mode);
    await options.charge?.(selected.length);
    const jobIds: string[] = [];
    for (const ids of chunk(selected, 500)) {
      // pending again (also for `all`), so the outbox sweeper keeps watching it until re-indexed
      await REQUEUE.run(
        redis,
        [keys.outboxOf(account), keys.tenantStats(account, tenant), ...ids.map((id) => keys.message(account, id))],
        [Date.now(), ...ids.map((id) => outboxMember(account, id))],
      );
      const queued = await queueIndexJobs(deps, [{ account, ids }], mode === "all");
      jobIds.push(...queued.jobIds);
    }
    if (jobIds.length === 0) await redis.del(claimKey);
    else {
      const claim: Claim = { started_at: new Date().toISOString(), queued: selected.length, job_ids: jobIds };
      await redis.set(claimKey, JSON.stringify(claim), "PX", JOBS_CLAIM_MS);
    }
    return selected.length;
  } catch (error) {
    await redis.del(claimKey).catch(() => undefined);
    throw error;
  }
}

/** Takes the tenant's reindex claim, or throws 409 while another reindex of it is walking or its jobs wait. */
async function claimTenant(deps: JobDeps, claimKey: string, queue: Queue): Promise<void> {
  const { redis } = deps;
  const mine = JSON.stringify({ started_at: new Date().toISOString() } satisfies Claim);
  for (let attempt = 0; attempt < 2; attempt++) {
    if ((await redis.set(claimKey, mine, "PX", WALK_CLAIM_MS, "NX")) === "OK") return;
    const held = await redis.get(claimKey);
    if (held === null) continue;
    const claim = JSON.parse(held) as Claim;
    const alive = await Promise.all((claim.job_ids ?? []).map((id) => isJobAlive(queue, id)));
    const waiting = alive.filter(Boolean).length;
    // A walk in progress, or jobs yet to run: refuse. Otherwise the last reindex is over.
    if (!claim.job_ids || waiting > 0) {
      throw conflict("reindex_running", "A reindex of this tenant is still running; retry when its messages are indexed", {
        started_at: claim.started_at,
        queued: claim.queued ?? null,
        jobs_waiting: claim.job_ids ? waiting : null,
      });
    }
    // Compare-and-delete, so a claim taken meanwhile by another request is left alone.
    await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, claimKey, held);
  }
  throw conflict("reindex_running", "A reindex of this tenant is starting; retry shortly");
}

async function selectMessages(deps: JobDeps, account: string, tenant: string, mode: ReindexMode): Promise<string[]> {
  const { redis } = deps;
  const conversations = await redis.zrange(keys.conversations(account, tenant), "0", "-1");
  const selected: string[] = [];
  for (const conversation of conversations) {
    const ids = await redis.zrange(keys.conversationMessages(account, tenant, conversation), "0", "-1");
    for (const part of chunk(ids, 500)) {
      const statuses = await Promise.all(part.map((id) => redis.hget(keys.message(account, id), "status")));
      part.forEach((id, i) => {
        if (statuses[i] && (mode === "all" || statuses[i] === mode)) selected.push(id);
      });
    }
  }
  return selected;
}
