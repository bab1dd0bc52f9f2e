import { Queue } from "bullmq";
import type { RedisClient } from "./redis";
import { type Static, Type } from "@sinclair/typebox";
import type { Config } from "../config";
import { allShards, keys, QUEUE_INDEX, QUEUE_WEBHOOKS, shardOf } from "./keys";

/** One job = the message ids one API request accepted (a single message or a batch chunk). */
export const IndexJobData = Type.Object({
  account: Type.String(),
  ids: Type.Array(Type.String(), { minItems: 1 }),
  /** re-embed even if already indexed (reindex of a tenant, model switch) */
  force: Type.Optional(Type.Boolean()),
});
export type IndexJobData = Static<typeof IndexJobData>;

/** A data job (delete by filter, tenant erase) on its account's shard queue; its request and progress live in Redis. */
export const DataJobData = Type.Object({ account: Type.String(), dataJob: Type.String() });
export type DataJobData = Static<typeof DataJobData>;

/** What a shard queue carries: indexing jobs and data jobs. */
export type ShardJobData = IndexJobData | DataJobData;

/** A webhook delivery: the event (its id is the `webhook-id`) to one endpoint; its payload and log entry live in Redis. */
export const DeliveryJobData = Type.Object({ account: Type.String(), webhookId: Type.String(), eventId: Type.String() });
export type DeliveryJobData = Static<typeof DeliveryJobData>;

/** One webhook delivery queue per shard, beside its indexing queue (same braced prefix). */
export function createWebhookQueues(connection: RedisClient): Queue<DeliveryJobData>[] {
  return allShards().map((k) => new Queue<DeliveryJobData>(QUEUE_WEBHOOKS, { connection, prefix: keys.bullPrefix(k) }));
}

/** One indexing queue per shard (braced prefix: each queue's keys in its shard's slot), so load spreads over masters. */
export function createIndexQueues(connection: RedisClient): Queue<ShardJobData>[] {
  return allShards().map((k) => new Queue<ShardJobData>(QUEUE_INDEX, { connection, prefix: keys.bullPrefix(k) }));
}

/** The queue of an account's shard. */
export const queueOf = <T>(queues: T[], account: string): T => queues[shardOf(account)];

/** Retry policy of indexing jobs: exponential backoff with a cap (see `backoffStrategy`). */
export function indexJobOptions(config: Config) {
  return {
    attempts: config.EMBED_MAX_ATTEMPTS,
    backoff: { type: "capped-exponential" as const },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 86_400, count: 100_000 },
  };
}

export function backoffDelay(config: Config, attemptsMade: number): number {
  return Math.min(config.EMBED_BACKOFF_MAX_MS, config.EMBED_BACKOFF_MS * 2 ** Math.max(0, attemptsMade - 1));
}

/**
 * A fresh job id: unique, never containing `:` (BullMQ reserves it), carrying the time it was made
 * (a UUIDv7). Not derived from the messages: each message records the id of the job that claimed
 * it (`job_id`), which is what the outbox sweeper checks before queueing it again.
 */
export const newJobId = () => `ix-${Bun.randomUUIDv7()}`;

/** When `newJobId` made a job id (ms since the epoch, from its UUIDv7); 0 for any other id. */
export function jobIdTime(jobId: string): number {
  const uuid = /^ix-([0-9a-f]{8})-([0-9a-f]{4})-7/.exec(jobId);
  return uuid ? Number.parseInt(uuid[1] + uuid[2], 16) : 0;
}

/** Splits ids into jobs of at most `size`, so one job never holds more than one embedder batch. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
