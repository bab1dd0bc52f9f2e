import type { Config } from "../config";
import type { Deps } from "../deps";
import { keys } from "../store/keys";
import { queueOf } from "../store/queue";
import { Script } from "../store/script";
import type { Delivery } from "./model";

/** What making and listing deliveries needs. */
export type DeliveryDeps = Pick<Deps, "config" | "redis" | "webhookQueues">;

/** An event as the log carries it: {account, event: {id, type, ts, ...data}}. */
export interface LoggedEvent {
  id: string;
  type: string;
  ts: string;
  tenant_id?: string;
  [field: string]: unknown;
}

/**
 * The body a receiver gets, Standard Webhooks style: `{type, timestamp, data}`. Message events carry
 * `{tenant_id, conversation_id, message, reason?}` as their data; other events their own `data`.
 */
export function payloadOf(event: LoggedEvent): string {
  const { id: _id, type, ts, data, ...rest } = event;
  return JSON.stringify({ type, timestamp: ts, data: data ?? rest });
}

/**
 * Records a delivery (once: the event id and the endpoint make it; a second call changes nothing)
 * with its payload, in the endpoint's log, and trims the log by age. Returns 1 when new.
 * KEYS: delivery, endpoint's deliveries. ARGV: event id, type, payload, created ms, created ISO, ttl s.
 */
const RECORD = new Script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'event_type', ARGV[2], 'payload', ARGV[3], 'status', 'pending', 'attempts', 0,
  'created_at', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[6]) * 1000)
return 1
`);

/** Retry schedule (ms) from WEBHOOK_RETRY_SCHEDULE_MS: attempts = its length + 1. */
export const retrySchedule = (config: Pick<Config, "WEBHOOK_RETRY_SCHEDULE_MS">) => config.WEBHOOK_RETRY_SCHEDULE_MS.split(",").map(Number);

/** The delivery log keeps an entry through its retries, and at least the configured retention. */
const recordTtlS = (config: Config) => config.WEBHOOK_LOG_RETENTION_S + Math.ceil(retrySchedule(config).reduce((a, b) => a + b, 0) * 1.2 / 1000);

export function deliveryJobOptions(config: Config, jobId: string) {
  return {
    jobId,
    attempts: retrySchedule(config).length + 1,
    backoff: { type: "webhook-schedule" },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 86_400, count: 100_000 },
  };
}

/** BullMQ job ids may not contain `:`; event ids and webhook ids have none. */
export const deliveryJobId = (webhookId: string, eventId: string, round = 0) => `dl-${webhookId}-${eventId}${round ? `-r${round}` : ""}`;

/**
 * Makes the deliveries of events of one account to their endpoints: each recorded once (RECORD)
 * and queued once (the job id is the event and the endpoint), so a dispatcher that dies and reads
 * the events again changes nothing. One round trip for the records, one for the queue.
 */
export async function createDeliveries(deps: DeliveryDeps, account: string, targets: { event: LoggedEvent; webhookIds: string[] }[]): Promise<void> {
  const pairs = targets.flatMap(({ event, webhookIds }) => webhookIds.map((webhookId) => ({ event, webhookId })));
  if (pairs.length === 0) return;
  const now = Date.now();
  const ttl = recordTtlS(deps.config);
  const payloads = new Map(targets.map(({ event }) => [event.id, payloadOf(event)]));
  await Promise.all(
    pairs.map(({ event, webhookId }) =>
      RECORD.run(deps.redis, [keys.webhookDelivery(account, webhookId, event.id), keys.webhookDeliveries(account, webhookId)], [
        event.id, event.type, payloads.get(event.id) as string, now, new Date(now).toISOString(), ttl,
      ]),
    ),
  );
  await queueOf(deps.webhookQueues, account).addBulk(
    pairs.map(({ event, webhookId }) => ({
      name: "deliver",
      data: { account, webhookId, eventId: event.id },
      opts: deliveryJobOptions(deps.config, deliveryJobId(webhookId, event.id)),
    })),
  );
}

export function toDelivery(row: Record<string, string>): Delivery {
  const number = (value: string | undefined) => (value === undefined || value === "" ? null : Number(value));
  return {
    id: row.id,
    event_type: row.event_type,
    status: row.status as Delivery["status"],
    attempts: Number(row.attempts ?? 0),
    response_status: number(row.response_status),
    error: row.error || null,
    latency_ms: number(row.latency_ms),
    next_attempt_at: row.next_attempt_at || null,
    created_at: row.created_at,
    last_attempt_at: row.last_attempt_at || null,
  };
}
