import { assertScope } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { AppError, conflict, forbidden, invalidCursor, notFound } from "../errors";
import { keys } from "../store/keys";
import { queueOf } from "../store/queue";
import { type SortedPosition, sortedPage } from "../store/sorted-pages";
import { createDeliveries, type DeliveryDeps, deliveryJobId, deliveryJobOptions, toDelivery } from "./deliveries";
import type { Delivery, Webhook, WebhookInput, WebhookUpdate } from "./model";
import { encryptSecret, newSigningSecret, secretKey } from "./secrets";
import { checkTarget, TargetRefused } from "./target";

export type WebhookDeps = Pick<Deps, "config" | "redis" | "webhookQueues">;

const newWebhookId = () => `wh_${Bun.randomUUIDv7().replaceAll("-", "")}`;

export function toWebhook(row: Record<string, string>): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    tenant_ids: row.tenant_ids ? (JSON.parse(row.tenant_ids) as string[]) : null,
    enabled: row.enabled === "1",
    description: row.description ?? "",
    disabled_reason: row.disabled_reason || null,
    consecutive_failures: Number(row.failures ?? 0),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/**
 * Webhooks belong to the account. An API key limited to tenants may only manage endpoints limited
 * to (some of) its tenants, and sees only those; a user's token or an unlimited key sees all.
 */
function visible(principal: Principal, tenants: string[] | null): boolean {
  const allowed = principal.tenants;
  if (!allowed) return true;
  return Boolean(tenants?.every((t) => allowed.includes(t)));
}

async function checkUrl(deps: WebhookDeps, url: string): Promise<void> {
  try {
    await checkTarget(url, deps.config.WEBHOOK_ALLOW_PRIVATE);
  } catch (error) {
    if (!(error instanceof TargetRefused)) throw error;
    throw new AppError(400, "invalid_webhook_url", `url: ${error.message}`, [{ field: "url", message: error.message }]);
  }
}

async function load(deps: Pick<Deps, "redis">, principal: Principal, id: string): Promise<Record<string, string>> {
  const row = await deps.redis.hgetall(keys.webhook(principal.account, id));
  if (!row.id || !visible(principal, row.tenant_ids ? JSON.parse(row.tenant_ids) : null)) throw notFound("Webhook");
  return row;
}

export async function createWebhook(deps: WebhookDeps, principal: Principal, input: WebhookInput): Promise<Webhook & { secret: string }> {
  assertScope(principal, "write");
  const tenants = input.tenant_ids ?? null;
  if (!visible(principal, tenants)) throw forbidden("This API key may only create webhooks limited to its own tenants (tenant_ids)");
  await checkUrl(deps, input.url);
  const { account } = principal;
  if ((await deps.redis.scard(keys.webhooks(account))) >= deps.config.MAX_WEBHOOKS_PER_ACCOUNT) {
    throw conflict("too_many_webhooks", `An account may have at most ${deps.config.MAX_WEBHOOKS_PER_ACCOUNT} webhooks; delete one first`, { limit: deps.config.MAX_WEBHOOKS_PER_ACCOUNT });
  }
  const id = newWebhookId();
  const secret = newSigningSecret();
  const now = new Date().toISOString();
  const row = {
    id, url: input.url, events: JSON.stringify(input.events), tenant_ids: tenants ? JSON.stringify(tenants) : "", enabled: input.enabled === false ? "0" : "1",
    description: input.description ?? "", secret: encryptSecret(secretKey(deps.config), secret), failures: "0", created_at: now, updated_at: now,
  };
  await deps.redis.multi().hset(keys.webhook(account, id), row).sadd(keys.webhooks(account), id).exec();
  return { ...toWebhook(row), secret };
}

export async function listWebhooks(deps: Pick<Deps, "redis">, principal: Principal): Promise<{ webhooks: Webhook[] }> {
  const ids = (await deps.redis.smembers(keys.webhooks(principal.account))).sort();
  const rows = await Promise.all(ids.map((id) => deps.redis.hgetall(keys.webhook(principal.account, id))));
  return { webhooks: rows.filter((r) => r.id && visible(principal, r.tenant_ids ? JSON.parse(r.tenant_ids) : null)).map(toWebhook) };
}

export async function getWebhook(deps: Pick<Deps, "redis">, principal: Principal, id: string): Promise<Webhook> {
  return toWebhook(await load(deps, principal, id));
}

/** Changes the given fields; enabling an endpoint clears the reason it was disabled and its failure count. */
export async function updateWebhook(deps: WebhookDeps, principal: Principal, id: string, input: WebhookUpdate): Promise<Webhook> {
  assertScope(principal, "write");
  await load(deps, principal, id);
  if (input.tenant_ids !== undefined && !visible(principal, input.tenant_ids)) throw forbidden("This API key may only limit webhooks to its own tenants");
  if (input.url !== undefined) await checkUrl(deps, input.url);
  const fields: Record<string, string> = { updated_at: new Date().toISOString() };
  if (input.url !== undefined) fields.url = input.url;
  if (input.events !== undefined) fields.events = JSON.stringify(input.events);
  if (input.tenant_ids !== undefined) fields.tenant_ids = input.tenant_ids ? JSON.stringify(input.tenant_ids) : "";
  if (input.description !== undefined) fields.description = input.description;
  if (input.enabled !== undefined) fields.enabled = input.enabled ? "1" : "0";
  if (input.enabled === true) Object.assign(fields, { disabled_reason: "", failures: "0" });
  await deps.redis.hset(keys.webhook(principal.account, id), fields);
  return getWebhook(deps, principal, id);
}

/** Removes the endpoint and its delivery log; deliveries still queued find it gone and stop. */
export async function deleteWebhook(deps: WebhookDeps, principal: Principal, id: string): Promise<void> {
  assertScope(principal, "write");
  await load(deps, principal, id);
  const { account } = principal;
  const logged = await deps.redis.zrange(keys.webhookDeliveries(account, id), "0", "-1");
  const multi = deps.redis.multi().del(keys.webhook(account, id), keys.webhookDeliveries(account, id)).srem(keys.webhooks(account), id);
  for (const eventId of logged) multi.del(keys.webhookDelivery(account, id, eventId));
  await multi.exec();
}

/**
 * A new signing secret, shown once. For WEBHOOK_SECRET_GRACE_S the previous one stays valid:
 * deliveries carry both signatures, so a receiver can switch at its own pace.
 */
export async function rotateSecret(deps: WebhookDeps, principal: Principal, id: string): Promise<{ secret: string; previous_valid_until: string }> {
  assertScope(principal, "write");
  const row = await load(deps, principal, id);
  const secret = newSigningSecret();
  const until = Date.now() + deps.config.WEBHOOK_SECRET_GRACE_S * 1000;
  await deps.redis.hset(keys.webhook(principal.account, id), {
    secret: encryptSecret(secretKey(deps.config), secret), previous_secret: row.secret, previous_until: String(until), updated_at: new Date().toISOString(),
  });
  return { secret, previous_valid_until: new Date(until).toISOString() };
}

/** Sends a `webhook.test` event to this endpoint only (through the same queue and retries as any event). */
export async function testWebhook(deps: DeliveryDeps, principal: Principal, id: string): Promise<Delivery> {
  assertScope(principal, "write");
  await load(deps, principal, id);
  const event = { id: `evt_${Bun.randomUUIDv7()}`, type: "webhook.test", ts: new Date().toISOString(), data: { webhook_id: id } };
  await createDeliveries(deps, principal.account, [{ event, webhookIds: [id] }]);
  return toDelivery(await deps.redis.hgetall(keys.webhookDelivery(principal.account, id, event.id)));
}

export async function listDeliveries(deps: Pick<Deps, "redis">, principal: Principal, id: string, limit: number, cursor?: string) {
  await load(deps, principal, id);
  let after: SortedPosition | undefined;
  if (cursor !== undefined) {
    const [score, member] = Buffer.from(cursor, "base64url").toString("utf8").split("\n");
    if (!member || !Number.isFinite(Number(score))) throw invalidCursor();
    after = { score: Number(score), member };
  }
  const entries = await sortedPage(deps.redis, keys.webhookDeliveries(principal.account, id), { reverse: true, after }, limit);
  const rows = await Promise.all(entries.map((e) => deps.redis.hgetall(keys.webhookDelivery(principal.account, id, e.member))));
  const last = entries[entries.length - 1];
  return {
    deliveries: rows.filter((r) => r.id).map(toDelivery),
    next_cursor: entries.length === limit && last ? Buffer.from(`${last.score}\n${last.member}`).toString("base64url") : null,
  };
}

/** Queues a delivery again (any state): a new round of attempts with the same `webhook-id`. */
export async function retryDelivery(deps: WebhookDeps, principal: Principal, id: string, eventId: string): Promise<Delivery> {
  assertScope(principal, "write");
  await load(deps, principal, id);
  const key = keys.webhookDelivery(principal.account, id, eventId);
  if (!(await deps.redis.exists(key))) throw notFound("Delivery");
  await deps.redis.hset(key, { status: "pending", next_attempt_at: new Date().toISOString() });
  const jobId = deliveryJobId(id, eventId, Date.now());
  await queueOf(deps.webhookQueues, principal.account).add("deliver", { account: principal.account, webhookId: id, eventId }, deliveryJobOptions(deps.config, jobId));
  return toDelivery(await deps.redis.hgetall(key));
}
