import type { Deps } from "../deps";
import { emitEvent } from "../events/emit";
import { keys } from "../store/keys";
import type { DeliveryJobData } from "../store/queue";
import { Script } from "../store/script";
import { retrySchedule } from "./deliveries";
import { decryptSecret, secretKey, sign } from "./secrets";
import { checkTarget, post, TargetRefused } from "./target";

export type DeliverDeps = Pick<Deps, "config" | "redis" | "log">;

/** What a receiver's answer body is read to (the rest is never read), and kept of it in the log. */
const BODY_READ_CAP = 64 * 1024;
const BODY_KEPT = 1024;
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** A failed attempt to retry: after `delayMs`, when BullMQ's backoff asks (see `webhookBackoff`). */
export class DeliveryFailed extends Error {
  override name = "DeliveryFailed";
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/** A delivery that must not be retried (the endpoint is gone or disabled). */
export class DeliveryStopped extends Error {
  override name = "DeliveryStopped";
}

/**
 * Counts a delivery that failed for good against its endpoint and disables it at the limit, or at
 * once with a reason (410 Gone). Returns 2 when this call disabled it (so one `webhook.disabled` is sent), 1
 * otherwise. KEYS: webhook. ARGV: limit (0 = disable now), reason, now ISO.
 */
const COUNT_FAILURE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if (ARGV[1] == '0' or failures >= tonumber(ARGV[1])) and redis.call('HGET', KEYS[1], 'enabled') == '1' then
  redis.call('HSET', KEYS[1], 'enabled', '0', 'disabled_reason', ARGV[2], 'updated_at', ARGV[3])
  return 2
end
return 1
`);

/** Retry-After in seconds or as an HTTP date, as milliseconds (capped); undefined if absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** Reads at most BODY_READ_CAP bytes of an answer and keeps the first BODY_KEPT characters. */
async function readSome(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < BODY_READ_CAP) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, BODY_KEPT);
}

/** The signatures to send: the current secret's, and the previous one's during its grace period. */
function signatures(deps: DeliverDeps, hook: Record<string, string>, id: string, timestamp: number, body: string): string {
  const key = secretKey(deps.config);
  const list = [sign(decryptSecret(key, hook.secret), id, timestamp, body)];
  if (hook.previous_secret && Number(hook.previous_until) > Date.now()) list.push(sign(decryptSecret(key, hook.previous_secret), id, timestamp, body));
  return list.join(" ");
}

/**
 * One attempt at a delivery (a job of the webhook queue). Any 2xx: succeeded, the endpoint's
 * failure count reset. 410: the endpoint is disabled, no retry. Anything else (another status, a
 * timeout, a refused target, a redirect, which is never followed): retried on the schedule (a longer
 * Retry-After wins) until the last attempt; a delivery whose last attempt fails counts against the
 * endpoint, disabled after WEBHOOK_DISABLE_AFTER_FAILURES such deliveries in a row (a success in
 * between starts the count again). Every attempt is written to the delivery log.
 */
export async function deliver(deps: DeliverDeps, job: DeliveryJobData, attemptsMade: number, onDisabled?: () => void): Promise<"succeeded" | "skipped"> {
  const { account, webhookId, eventId } = job;
  const hookKey = keys.webhook(account, webhookId);
  const deliveryKey = keys.webhookDelivery(account, webhookId, eventId);
  const [hook, delivery] = await Promise.all([deps.redis.hgetall(hookKey), deps.redis.hgetall(deliveryKey)]);
  if (!delivery.id || delivery.status === "succeeded") return "skipped";
  if (!hook.id || hook.enabled !== "1") {
    await deps.redis.hset(deliveryKey, { status: "failed", error: hook.id ? "the endpoint is disabled" : "the endpoint was deleted", next_attempt_at: "" });
    throw new DeliveryStopped("endpoint disabled or deleted");
  }
  const schedule = retrySchedule(deps.config);
  const last = attemptsMade >= schedule.length;
  const started = performance.now();
  const attempt: Record<string, string> = { attempts: String(attemptsMade + 1), last_attempt_at: new Date().toISOString() };
  let failure: string;
  let wait: number | undefined;
  let gone = false;
  try {
    const target = await checkTarget(hook.url, deps.config.WEBHOOK_ALLOW_PRIVATE);
    const timestamp = Math.floor(Date.now() / 1000);
    const response = await post(target, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(deps.config.WEBHOOK_TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "memory-mesh-webhooks/0.1",
        "webhook-id": eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signatures(deps, hook, eventId, timestamp, delivery.payload),
      },
      body: delivery.payload,
    });
    const body = await readSome(response);
    Object.assign(attempt, { response_status: String(response.status), latency_ms: (performance.now() - started).toFixed(1), response_body: body });
    if (response.status >= 200 && response.status < 300) {
      await deps.redis.multi().hset(deliveryKey, { ...attempt, status: "succeeded", error: "", next_attempt_at: "" }).hset(hookKey, "failures", "0").exec();
      return "succeeded";
    }
    gone = response.status === 410;
    failure = response.status >= 300 && response.status < 400 ? `redirect (${response.status}) not followed` : `answered ${response.status}`;
    wait = retryAfterMs(response.headers.get("retry-after"));
  } catch (error) {
    attempt.latency_ms = (performance.now() - started).toFixed(1);
    attempt.response_status = "";
    failure = error instanceof TargetRefused ? `target refused: ${error.message}` : (error as Error).name === "TimeoutError" ? `no answer within ${deps.config.WEBHOOK_TIMEOUT_MS} ms` : `could not connect: ${(error as Error).message}`;
  }
  // A delivery that fails for good (its last attempt, or 410) counts against the endpoint; one still being retried does not.
  const reason = gone ? "the receiver answered 410 Gone" : `${deps.config.WEBHOOK_DISABLE_AFTER_FAILURES} deliveries in a row failed after every retry`;
  const counted = gone || last ? await COUNT_FAILURE.run<number>(deps.redis, [hookKey], [gone ? 0 : deps.config.WEBHOOK_DISABLE_AFTER_FAILURES, reason, new Date().toISOString()]) : 0;
  if (counted === 2) {
    onDisabled?.();
    deps.log.warn({ webhookId, reason }, "webhook endpoint disabled");
    await emitEvent(deps.redis, account, { type: "webhook.disabled", data: { webhook_id: webhookId, url: hook.url, reason } });
  }
  const stop = gone || counted === 2 || last;
  const jitter = 0.8 + Math.random() * 0.4;
  const delay = Math.max(Math.round((schedule[attemptsMade] ?? 0) * jitter), wait ?? 0);
  await deps.redis.hset(deliveryKey, { ...attempt, status: stop ? "failed" : "pending", error: failure, next_attempt_at: stop ? "" : new Date(Date.now() + delay).toISOString() });
  if (stop) throw new DeliveryStopped(failure);
  throw new DeliveryFailed(failure, delay);
}
