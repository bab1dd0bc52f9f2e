import type { Queue } from "bullmq";
import type { Deps } from "../deps";
import { keys, shardOf } from "../store/keys";
import { chunk, type IndexJobData, indexJobOptions, newJobId } from "../store/queue";
import { Script } from "../store/script";

/** What queueing jobs uses. */
export type JobDeps = Pick<Deps, "config" | "redis" | "queues">;

/** A job in one of these states has yet to run (or is running). */
const LIVE_STATES = new Set(["waiting", "active", "delayed", "prioritized", "waiting-children"]);

export async function isJobAlive(queue: Queue, jobId: string): Promise<boolean> {
  return LIVE_STATES.has(await queue.getJobState(jobId));
}

/**
 * Gives messages to a new job (ARGV[1]), atomically: a message is taken only if it is still
 * pending and holds the job id the caller expects (ARGV[2]: '' = none yet, '*' = any). So a
 * dispatcher and the outbox sweeper never both queue a message, a message indexed meanwhile is
 * not queued again, and a message deleted meanwhile is not brought back as a stub. The keys are
 * one account's messages (one slot). Returns the positions (1-based) of the keys taken.
 */
const CLAIM = new Script(`
local taken = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'status', 'job_id')
  if state[1] == 'pending' and (ARGV[2] == '*' or (state[2] or '') == ARGV[2]) then
    redis.call('HSET', key, 'job_id', ARGV[1])
    taken[#taken + 1] = i
  end
end
return taken
`);

/** Messages of one account to queue; `fromJob` is the job id they hold now ('' = none yet, omitted = any). */
export interface JobGroup {
  account: string;
  ids: string[];
  fromJob?: string;
}

/**
 * Queues indexing jobs of at most EMBED_BATCH_SIZE ids per account, on the queue of the account's
 * shard. Each message is claimed for its job first (its job id recorded, see CLAIM), and a job gets
 * only the messages it claimed; the outbox sweeper reads that job id to tell whether the message's
 * job is still alive. Returns how many messages were queued, and the ids of the jobs.
 */
export async function queueIndexJobs(deps: JobDeps, groups: JobGroup[], force = false): Promise<{ queued: number; jobIds: string[] }> {
  const planned = groups.flatMap(({ account, ids, fromJob }) =>
    chunk(ids, deps.config.EMBED_BATCH_SIZE).map((part) => ({ account, part, fromJob: fromJob ?? "*", jobId: newJobId() })),
  );
  const taken = await Promise.all(
    planned.map(({ account, part, fromJob, jobId }) => CLAIM.run<number[]>(deps.redis, part.map((id) => keys.message(account, id)), [jobId, fromJob])),
  );
  const byShard = new Map<number, { name: string; data: IndexJobData; opts: { jobId: string } }[]>();
  planned.forEach(({ account, part, jobId }, i) => {
    const ids = taken[i].map((at) => part[at - 1]);
    if (ids.length === 0) return;
    const k = shardOf(account);
    const jobs = byShard.get(k) ?? [];
    jobs.push({ name: "index", data: { account, ids, ...(force ? { force } : {}) }, opts: { ...indexJobOptions(deps.config), jobId } });
    byShard.set(k, jobs);
  });
  await Promise.all([...byShard].map(([k, jobs]) => deps.queues[k].addBulk(jobs)));
  const jobs = [...byShard.values()].flat();
  return { queued: jobs.reduce((n, job) => n + job.data.ids.length, 0), jobIds: jobs.map((job) => job.opts.jobId) };
}
