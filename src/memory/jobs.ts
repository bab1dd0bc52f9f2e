import type { Deps } from "../deps";
import { keys } from "../store/keys";
import { chunk, indexJobOptions, newJobId } from "../store/queue";

/** What queueing jobs uses. */
export type JobDeps = Pick<Deps, "config" | "redis" | "queue">;

/**
 * Queues indexing jobs of at most EMBED_BATCH_SIZE ids per account, recording each message's job
 * id first (the outbox sweeper checks that job before queueing a message again). Returns the ids of
 * the jobs queued.
 */
export async function queueIndexJobs(deps: JobDeps, groups: { account: string; ids: string[] }[], force = false): Promise<string[]> {
  const marks = deps.redis.pipeline();
  const jobs = [];
  for (const { account, ids } of groups) {
    for (const part of chunk(ids, deps.config.EMBED_BATCH_SIZE)) {
      const jobId = newJobId();
      for (const id of part) marks.hset(keys.message(account, id), "job_id", jobId);
      jobs.push({ name: "index", data: { account, ids: part, ...(force ? { force } : {}) }, opts: { ...indexJobOptions(deps.config), jobId } });
    }
  }
  if (jobs.length === 0) return [];
  await marks.exec();
  await deps.queue.addBulk(jobs);
  return jobs.map((job) => job.opts.jobId);
}
