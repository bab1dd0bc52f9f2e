import type { Config } from "../config";
import type { Deps } from "../deps";
import { allShards, keys, parseOutboxMember } from "../store/keys";
import { jobIdTime } from "../store/queue";
import { isJobAlive, type JobGroup, queueIndexJobs } from "./jobs";

const SWEEP_LIMIT = 500;

/** How often a worker tries to sweep, and how long one sweep holds the lock. */
export const sweepPeriod = (config: Config) => Math.max(1000, Math.floor(config.OUTBOX_REDRIVE_MS / 3));

/**
 * Queues again every accepted message whose job is gone: a dispatcher died between taking it
 * and queueing it, the enqueue failed, or the job was removed. Only messages accepted more than
 * OUTBOX_REDRIVE_MS before `now` are looked at, and of those, left alone are: messages still in
 * the dispatch list (waiting their turn), messages whose job id was made less than
 * OUTBOX_REDRIVE_MS ago (a dispatcher may be adding that job right now), and messages whose job
 * is alive. A job's state is read before its messages are taken, and they are taken only if
 * still pending with that job id (CLAIM): a job that completes meanwhile has marked its messages
 * indexed first, so they are not queued again. Each shard's outbox is swept by one worker at a
 * time (a short Redis lock per shard). Returns how many messages were queued.
 */
export async function sweepOutbox(deps: Deps, workerId: string, now = Date.now()): Promise<number> {
  let requeued = 0;
  for (const k of allShards()) requeued += await sweepShard(deps, workerId, now, k);
  return requeued;
}

async function sweepShard(deps: Deps, workerId: string, now: number, shardNo: number): Promise<number> {
  const { redis, config } = deps;
  const queue = deps.queues[shardNo];
  const age = config.OUTBOX_REDRIVE_MS;
  const locked = await redis.set(keys.outboxLock(shardNo), workerId, "PX", sweepPeriod(config), "NX");
  if (!locked) return 0;
  const members = await redis.zrangebyscore(keys.outbox(shardNo), "-inf", now - age, "LIMIT", 0, SWEEP_LIMIT);
  if (members.length === 0) return 0;

  // Read before the messages: a message without a job id while the list is empty was taken from it.
  const undispatched = await redis.llen(keys.dispatch(shardNo));
  const parsed = members.map(parseOutboxMember);
  const rows = await Promise.all(parsed.map(({ account, messageId }) => redis.hmget(keys.message(account, messageId), "status", "job_id")));
  const byJob = new Map<string, JobGroup>();
  const orphans: string[] = [];
  for (const [i, { account, messageId }] of parsed.entries()) {
    const [status, jobId] = rows[i];
    if (status !== "pending") {
      orphans.push(members[i]);
      continue;
    }
    const fromJob = jobId ?? "";
    // No job id: not taken from the dispatch list yet, or taken by a dispatcher that died before
    // claiming it. While the list holds anything the message may be in it, waiting its turn.
    if (fromJob === "" ? undispatched > 0 : now - jobIdTime(fromJob) < age) continue;
    const group = `${account}\n${fromJob}`;
    const entry = byJob.get(group) ?? { account, ids: [], fromJob };
    entry.ids.push(messageId);
    byJob.set(group, entry);
  }
  if (orphans.length > 0) await redis.zrem(keys.outbox(shardNo), ...orphans);

  const groups = [...byJob.values()];
  const alive = await Promise.all(groups.map(({ fromJob }) => (fromJob ? isJobAlive(queue, fromJob) : false)));
  const { queued: requeued } = await queueIndexJobs(deps, groups.filter((_, i) => !alive[i]));
  // Scores stay the accept time (the index-lag metric reads the oldest); entries whose job is
  // alive are looked at again next time, and they leave the outbox as they get indexed.
  if (requeued > 0) deps.log.warn({ shard: shardNo, requeued }, "outbox: queued messages whose job was missing");
  return requeued;
}
