import { UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Deps } from "../deps";
import { EmbedderError } from "../store/embeddings";
import { keys, QUEUE_INDEX } from "../store/keys";
import { backoffDelay, type IndexJobData } from "../store/queue";
import { createRedis } from "../store/redis";
import { type BatchStats, createEmbedBatcher } from "./batcher";
import { indexMessages, markFailed } from "./indexing";
import { startDispatcher } from "./dispatcher";
import { sweepOutbox, sweepPeriod } from "./outbox";

export interface IndexingWorker {
  close(): Promise<void>;
  worker: Worker<IndexJobData>;
}

export interface IndexingHooks {
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
  const connection: Redis = createRedis(config.REDIS_URL as string, "worker", log);
  const workerId = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;

  const worker = new Worker<IndexJobData>(
    QUEUE_INDEX,
    async (job) => {
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
    },
    {
      connection,
      prefix: keys.bullPrefix(),
      concurrency: config.WORKER_CONCURRENCY || config.EMBED_BATCH_SIZE * 2,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: 1000,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(config, attemptsMade) },
    },
  );
  worker.on("error", (error) => log.warn({ err: error.message }, "worker error"));

  const dispatcher = startDispatcher(deps);
  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepOutbox(deps, workerId)
      .catch((error) => log.warn({ err: (error as Error).message }, "outbox sweep failed"))
      .finally(() => {
        sweeping = false;
      });
  }, sweepPeriod(config));

  return {
    worker,
    async close() {
      clearInterval(sweeper);
      await dispatcher.close();
      await worker.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
