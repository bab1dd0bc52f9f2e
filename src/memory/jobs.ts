import type { Queue } from "bullmq";
import type { Deps } from "../deps";
import { keys, shardOf } from "../store/keys";
import { chunk, type IndexJobData, indexJobOptions, newJobId } from "../store/queue";

/** What queueing jobs uses. */
export type JobDeps = Pick<Deps, "config" | "redis" | "queues">;

/** A job in one of these states has yet to run (or is running). */
const LIVE_STATES = new Set(["waiting", "active", "delayed", "prioritized", "waiting-children"]);

export async function isJobAlive(queue: Queue, jobId: string): Promise<boolean> {
  return LIVE_STATES.has(await queue.getJobState(jobId));
}

/**
 * Queues indexing jobs of at most EMBED_BATCH_SIZE ids per account, recording each message's job
 * id first (the outbox sweeper checks that job before queueing a message again). Returns the ids of
 * the jobs queued.
 */
export async function queueIndexJobs(deps: JobDeps, groups: { account: string; ids: string[] }[], force = false): Promise<string[]> {
  // Per shard: its messages' marks in one pipeline (one slot) and its jobs on its own queue.
  const byShard = new Map<number, { marks: ReturnType<JobDeps["redis"]["pipeline"]>; jobs: { name: string; data: IndexJobData; opts: { jobId: string } }[] }>();
  for (const { account, ids } of groups) {
    const k = shardOf(account);
    const shard = byShard.get(k) ?? { marks: deps.redis.pipeline(), jobs: [] };
    byShard.set(k, shard);
    for (const part of chunk(ids, deps.config.EMBED_BATCH_SIZE)) {
      const jobId = newJobId();
      for (const id of part) shard.marks.hset(keys.message(account, id), "job_id", jobId);
      shard.jobs.push({ name: "index", data: { account, ids: part, ...(force ? { force } : {}) }, opts: { ...indexJobOptions(deps.config), jobId } });
    }
  }
  await Promise.all(
    [...byShard].map(async ([k, { marks, jobs }]) => {
      await marks.exec();
      await deps.queues[k].addBulk(jobs);
    }),
  );
  return [...byShard.values()].flatMap(({ jobs }) => jobs.map((job) => job.opts.jobId));
}
