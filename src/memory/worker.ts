import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { RedisClient } from "../store/redis";
import type { Deps } from "../deps";
import type { ProcessHealth } from "../metrics";
import { EmbedderError } from "../store/embeddings";
import { allShards, keys, QUEUE_INDEX, shardCount } from "../store/keys";
import { backoffDelay, type DataJobData, type IndexJobData, type ShardJobData } from "../store/queue";
import { failDataJob, runDataJob } from "../jobs/service";
import { sweepExpired } from "../messages/expiry";
import { startWebhookWorkers, type WebhookHooks } from "../webhooks/worker";
import { answersPing, closeRedis } from "../store/redis";
import { type BatchStats, createEmbedBatcher } from "./batcher";
import { indexMessages, markFailed } from "./indexing";
import { startDispatcher } from "./dispatcher";
import { sweepOutbox, sweepPeriod } from "./outbox";

export interface IndexingWorker {
  close(): Promise<void>;
  /** What the worker's `/health` answers (see `workerHealth`). */
  health(): Promise<WorkerHealth>;
  /** one BullMQ worker per shard queue */
  workers: Worker<ShardJobData>[];
}

export interface WorkerHealth extends ProcessHealth {
  worker: boolean;
  redis: boolean;
}

/** Healthy while the BullMQ workers take jobs (started, not closed) and Redis answers. */
export async function workerHealth(workers: Worker[], redis: RedisClient): Promise<WorkerHealth> {
  const running = workers.every((w) => w.isRunning());
  const reachable = await answersPing(redis);
  return { status: running && reachable ? "ok" : "unavailable", worker: running, redis: reachable };
}

export interface IndexingHooks extends WebhookHooks {
  onBatch?(stats: BatchStats): void;
  onIndexed?(count: number): void;
  onFailed?(count: number): void;
}

/**
 * An indexing worker: a dispatcher turns accepted messages into BullMQ jobs (at most one embedder
 * batch each); jobs are held concurrently while a shared batcher embeds their texts together.
 * Locks are short so the jobs of a killed worker return within seconds; the outbox sweeper runs
 * on a timer.
 */
export function startIndexingWorker(deps: Deps, hooks: IndexingHooks = {}): IndexingWorker {
  const { config, log } = deps;
  const batcher = createEmbedBatcher(deps.embedder, config.EMBED_BATCH_SIZE, config.EMBED_BATCH_WAIT_MS, (stats) => {
    hooks.onBatch?.(stats);
    log.debug({ size: stats.size, ms: Math.round(stats.ms), ok: stats.ok }, "embedded batch");
  });
  const connection: RedisClient = deps.connect("worker");
  const workerId = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;

  const processDataJob = async (job: Job<DataJobData>) => {
    try {
      await runDataJob(deps, job.data.account, job.data.dataJob);
    } catch (error) {
      const reason = (error as Error).message;
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        await failDataJob(deps, job.data.account, job.data.dataJob, reason);
        log.error({ jobId: job.id, err: reason }, "data job failed for good");
      } else {
        log.warn({ jobId: job.id, attempt: job.attemptsMade + 1, err: reason }, "data job failed; will retry");
      }
      throw error;
    }
  };

  const processJob = async (job: Job<ShardJobData>) => {
    if ("dataJob" in job.data) return processDataJob(job as Job<DataJobData>);
    return processIndexJob(job as Job<IndexJobData>);
  };

  const processIndexJob = async (job: Job<IndexJobData>) => {
    try {
      const outcome = await indexMessages(deps, batcher, job.data);
      hooks.onIndexed?.(outcome.indexed);
      return outcome;
    } catch (error) {
      const retryable = !(error instanceof EmbedderError) || error.retryable;
      const last = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) {
        const reason = (error as Error).message.slice(0, 500);
        const failedCount = await markFailed(deps, job.data, reason);
        hooks.onFailed?.(failedCount);
        log.error({ jobId: job.id, count: job.data.ids.length, err: reason }, "indexing failed for good");
        if (!retryable) throw new UnrecoverableError(reason);
      } else {
        log.warn({ jobId: job.id, attempt: job.attemptsMade + 1, err: (error as Error).message }, "indexing failed; will retry");
      }
      throw error;
    }
  };
  // One BullMQ worker per shard queue; together they hold about the configured number of jobs, and
  // the shared batcher embeds the texts of all of them together.
  const total = config.WORKER_CONCURRENCY || config.EMBED_BATCH_SIZE * 2;
  const concurrency = Math.max(2, Math.ceil(total / shardCount()));
  const workers = allShards().map((k) => {
    const worker = new Worker<ShardJobData>(QUEUE_INDEX, processJob, {
      connection,
      prefix: keys.bullPrefix(k),
      concurrency,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: 1000,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(config, attemptsMade) },
    });
    worker.on("error", (error) => log.warn({ shard: k, err: error.message }, "worker error"));
    return worker;
  });

  const dispatcher = startDispatcher(deps);
  const webhooks = startWebhookWorkers(deps, hooks);
  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepOutbox(deps, workerId)
      .catch((error) => log.warn({ err: (error as Error).message }, "outbox sweep failed"))
      .then(() => sweepExpired(deps, workerId, sweepPeriod(config)))
      .then((removed) => {
        if (removed) log.info({ removed }, "removed expired messages");
      })
      .catch((error) => log.warn({ err: (error as Error).message }, "expiry sweep failed"))
      .finally(() => {
        sweeping = false;
      });
  }, sweepPeriod(config));

  return {
    workers,
    health: () => workerHealth(workers, deps.redis),
    async close() {
      clearInterval(sweeper);
      await dispatcher.close();
      await webhooks.close();
      // Graceful (active jobs finish) for at most a lock's length; past it (a worker whose blocking
      // connection went down with its master, say) forced: its jobs come back when their locks expire.
      await Promise.all(
        workers.map(async (w) => {
          const closed = await Promise.race([w.close().then(() => true), Bun.sleep(config.JOB_LOCK_MS).then(() => false)]);
          if (!closed) await Promise.race([w.close(true), Bun.sleep(1000)]);
        }),
      );
      await closeRedis(connection);
    },
  };
}
