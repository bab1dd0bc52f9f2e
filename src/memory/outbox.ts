import type { Deps } from "../deps";
import { allShards, keys, parseOutboxMember } from "../store/keys";
import { isJobAlive, queueIndexJobs } from "./jobs";

const SWEEP_LIMIT = 500;

/**
 * Queues again every accepted message whose job is gone: a dispatcher died between taking it
 * and queueing it, the enqueue failed, or Redis lost the job. Only entries older than
 * OUTBOX_REDRIVE_MS are looked at, and a message whose job is still alive is left alone.
 * Each shard's outbox is swept by one worker at a time (a short Redis lock per shard).
 */
export async function sweepOutbox(deps: Deps, workerId: string): Promise<number> {
  let requeued = 0;
  for (const k of allShards()) requeued += await sweepShard(deps, workerId, k);
  return requeued;
}

async function sweepShard(deps: Deps, workerId: string, shardNo: number): Promise<number> {
  const { redis, config } = deps;
  const queue = deps.queues[shardNo];
  const period = Math.max(1000, Math.floor(config.OUTBOX_REDRIVE_MS / 3));
  const locked = await redis.set(keys.outboxLock(shardNo), workerId, "PX", period, "NX");
  if (!locked) return 0;
  const now = Date.now();
  const members = await redis.zrangebyscore(keys.outbox(shardNo), "-inf", now - config.OUTBOX_REDRIVE_MS, "LIMIT", 0, SWEEP_LIMIT);
  if (members.length === 0) return 0;

  const byJob = new Map<string, { account: string; ids: string[] }>();
  const orphans: string[] = [];
  for (const member of members) {
    const { account, messageId } = parseOutboxMember(member);
    const [status, jobId] = await redis.hmget(keys.message(account, messageId), "status", "job_id");
    if (status !== "pending") {
      orphans.push(member);
      continue;
    }
    const group = `${account}\n${jobId ?? ""}`;
    const entry = byJob.get(group) ?? { account, ids: [] };
    entry.ids.push(messageId);
    byJob.set(group, entry);
  }
  if (orphans.length > 0) await redis.zrem(keys.outbox(shardNo), ...orphans);

  const lost: { account: string; ids: string[] }[] = [];
  for (const [group, entry] of byJob) {
    const oldJobId = group.split("\n")[1];
    if (!oldJobId || !(await isJobAlive(queue, oldJobId))) lost.push(entry);
  }
  await queueIndexJobs(deps, lost);
  const requeued = lost.reduce((n, entry) => n + entry.ids.length, 0);
  // Scores stay the accept time (the index-lag metric reads the oldest); entries whose job is
  // alive are looked at again next time, and they leave the outbox as they get indexed.
  if (requeued > 0) deps.log.warn({ requeued }, "outbox: queued messages whose job was missing");
  return requeued;
}
