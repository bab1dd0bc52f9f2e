import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { Deps } from "../deps";
import { allShards, keys, QUEUE_WEBHOOKS } from "../store/keys";
import type { DeliveryJobData } from "../store/queue";
import type { RedisClient } from "../store/redis";
import { createDeliveries, type LoggedEvent, retrySchedule } from "./deliveries";
import { DeliveryFailed, DeliveryStopped, deliver } from "./delivery";
import { toWebhook } from "./service";

const GROUP = "webhooks";
/** Log entries read per round; how long an entry may sit with a consumer that died before another takes it. */
const READ_COUNT = 100;
const CLAIM_IDLE_MS = 30_000;
const POLL_MS = 1000;
const CLAIM_EVERY_MS = 15_000;

export interface WebhookHooks {
  onDelivery?(outcome: "succeeded" | "failed" | "retrying", seconds: number): void;
  onWebhookDisabled?(): void;
}

/**
 * The webhook side of a worker process: a dispatcher that turns each shard's event log into
 * deliveries (one per matching endpoint), and BullMQ workers on each shard's delivery queue that
 * send them. The dispatcher reads with a consumer group and acknowledges an entry only after its
 * deliveries are recorded and queued (both idempotent), so a worker killed at any point loses no
 * event: another reads it again (XAUTOCLAIM) and nothing is delivered twice but retries of the
 * same `webhook-id`. It wakes on a sharded message (`<log>:wake`) sent with each entry, and polls
 * every second in case one was missed.
 */
export function startWebhookWorkers(deps: Deps, hooks: WebhookHooks = {}): { close(): Promise<void>; workers: Worker[] } {
  const { config, log } = deps;
  const consumer = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const connection: RedisClient = deps.connect("worker");
  const schedule = retrySchedule(config);

  // Each shard's worker may take up to WEBHOOK_CONCURRENCY jobs (one account's events all go to one
  // shard), and this process sends at most that many at once in all.
  let sending = 0;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    while (sending >= config.WEBHOOK_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
    sending++;
  };
  const release = () => {
    sending--;
    waiting.shift()?.();
  };
  const send = async (job: Job<DeliveryJobData>) => {
    await acquire();
    try {
      return await attempt(job);
    } finally {
      release();
    }
  };
  const attempt = async (job: Job<DeliveryJobData>) => {
    const started = performance.now();
    try {
      const outcome = await deliver(deps, job.data, job.attemptsMade, hooks.onWebhookDisabled);
      if (outcome === "succeeded") hooks.onDelivery?.("succeeded", (performance.now() - started) / 1000);
      return outcome;
    } catch (error) {
      const final = error instanceof DeliveryStopped || !(error instanceof DeliveryFailed);
      hooks.onDelivery?.(final ? "failed" : "retrying", (performance.now() - started) / 1000);
      if (error instanceof DeliveryStopped) throw new UnrecoverableError(error.message);
      throw error;
    }
  };
  const concurrency = config.WEBHOOK_CONCURRENCY;
  const workers = allShards().map((k) => {
    const worker = new Worker<DeliveryJobData>(QUEUE_WEBHOOKS, send, {
      connection,
      prefix: keys.bullPrefix(k),
      concurrency,
      lockDuration: Math.max(config.JOB_LOCK_MS, config.WEBHOOK_TIMEOUT_MS + 5000),
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: 1000,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof DeliveryFailed ? error.delayMs : (schedule[Math.max(0, attemptsMade - 1)] ?? schedule[schedule.length - 1]),
      },
    });
    worker.on("error", (error) => log.warn({ shard: k, err: error.message }, "webhook worker error"));
    return worker;
  });

  const dispatcher = startDispatcher(deps, consumer);
  return {
    workers,
    async close() {
      await dispatcher.close();
      await Promise.all(workers.map((w) => Promise.race([w.close(), Bun.sleep(config.WEBHOOK_TIMEOUT_MS)])));
      connection.disconnect();
    },
  };
}

/** The endpoints of an account an event goes to: enabled, subscribed to its type, and to its tenant if limited. */
async function matchingEndpoints(deps: Deps, account: string, events: LoggedEvent[]): Promise<Map<string, string[]>> {
  const ids = await deps.redis.smembers(keys.webhooks(account));
  const hooks = (await Promise.all(ids.map((id) => deps.redis.hgetall(keys.webhook(account, id))))).filter((r) => r.id).map(toWebhook);
  const out = new Map<string, string[]>();
  for (const event of events) {
    const to = hooks.filter((h) => h.enabled && h.events.includes(event.type) && (h.tenant_ids === null || event.tenant_id === undefined || h.tenant_ids.includes(event.tenant_id)));
    out.set(event.id, to.map((h) => h.id));
  }
  return out;
}

function startDispatcher(deps: Deps, consumer: string): { close(): Promise<void> } {
  const { log } = deps;
  let running = true;
  const state = allShards().map(() => ({ busy: false, again: false, grouped: false }));

  const ensureGroup = async (k: number) => {
    if (state[k].grouped) return;
    await deps.redis.call("XGROUP", "CREATE", keys.eventLog(k), GROUP, "0", "MKSTREAM").catch((error: Error) => {
      if (!/BUSYGROUP/.test(error.message)) throw error;
    });
    state[k].grouped = true;
  };

  /** Makes the deliveries of some log entries, then acknowledges them. */
  const handle = async (k: number, entries: [string, string[]][]) => {
    const byAccount = new Map<string, LoggedEvent[]>();
    for (const [, fields] of entries) {
      const raw = fields[fields.indexOf("e") + 1];
      const { account, event } = JSON.parse(raw) as { account: string; event: LoggedEvent };
      byAccount.set(account, [...(byAccount.get(account) ?? []), event]);
    }
    for (const [account, events] of byAccount) {
      const targets = await matchingEndpoints(deps, account, events);
      await createDeliveries(deps, account, events.map((event) => ({ event, webhookIds: targets.get(event.id) ?? [] })));
    }
    if (entries.length > 0) await deps.redis.xack(keys.eventLog(k), GROUP, ...entries.map(([id]) => id));
  };

  const readOnce = async (k: number): Promise<number> => {
    await ensureGroup(k);
    const reply = (await deps.redis.xreadgroup("GROUP", GROUP, consumer, "COUNT", READ_COUNT, "STREAMS", keys.eventLog(k), ">")) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    await handle(k, entries);
    return entries.length;
  };

  /** Reads a shard until its log is drained; a wake-up while reading makes it read once more. */
  const poke = (k: number) => {
    const s = state[k];
    if (s.busy) {
      s.again = true;
      return;
    }
    s.busy = true;
    (async () => {
      do {
        s.again = false;
        while (running && (await readOnce(k)) === READ_COUNT);
      } while (running && s.again);
    })()
      .catch((error) => log.warn({ shard: k, err: (error as Error).message }, "webhook dispatch failed; retried on the next poll"))
      .finally(() => {
        s.busy = false;
      });
  };

  /** Entries a consumer that died had read but not acknowledged. */
  const claimStale = async () => {
    for (const k of allShards()) {
      if (!state[k].grouped) continue;
      const reply = (await deps.redis.call("XAUTOCLAIM", keys.eventLog(k), GROUP, consumer, String(CLAIM_IDLE_MS), "0-0", "COUNT", String(READ_COUNT))) as [string, [string, string[]][]];
      const entries = (reply?.[1] ?? []).filter((entry) => Array.isArray(entry?.[1]));
      if (entries.length > 0) await handle(k, entries);
    }
  };

  const subscriber = deps.connect("subscriber");
  const shardOfChannel = new Map(allShards().map((k) => [keys.eventLogWake(k), k]));
  subscriber.on("smessage", (channel: string) => {
    const k = shardOfChannel.get(channel);
    if (k !== undefined && running) poke(k);
  });
  const subscribed = Promise.all(allShards().map((k) => subscriber.ssubscribe(keys.eventLogWake(k)))).catch((error: Error) =>
    log.warn({ err: error.message }, "webhook wake-up subscription failed; polling"),
  );
  const poller = setInterval(() => {
    for (const k of allShards()) poke(k);
  }, POLL_MS);
  let claiming = false;
  const claimer = setInterval(() => {
    if (claiming) return;
    claiming = true;
    claimStale()
      .catch((error) => log.warn({ err: (error as Error).message }, "webhook claim failed"))
      .finally(() => {
        claiming = false;
      });
  }, CLAIM_EVERY_MS);
  subscribed.then(() => {
    for (const k of allShards()) poke(k);
  });

  return {
    async close() {
      running = false;
      clearInterval(poller);
      clearInterval(claimer);
      subscriber.disconnect();
      for (let i = 0; i < 100 && state.some((s) => s.busy); i++) await Bun.sleep(20);
    },
  };
}
