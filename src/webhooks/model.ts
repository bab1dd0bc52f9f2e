import { t } from "elysia";
import { TenantId } from "../http/schemas";

/** What an endpoint can subscribe to: every message event, conversation deletions, data jobs, and its siblings' disabling. */
export const WEBHOOK_EVENTS = [
  "message.created", "message.indexed", "message.failed", "message.updated", "message.deleted",
  "conversation.deleted", "job.completed", "job.failed", "webhook.disabled",
] as const;

export const WebhookEventType = t.UnionEnum([...WEBHOOK_EVENTS]);

const Url = t.String({ minLength: 8, maxLength: 2048, description: "http(s) URL that receives POSTs", examples: ["https://example.com/hooks/memory-mesh"] });
const Events = t.Array(WebhookEventType, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true, description: "Event types to receive" });
const Tenants = t.Union([t.Array(TenantId, { minItems: 1, maxItems: 100 }), t.Null()], { description: "Only events of these tenants (null: all)" });
const Description = t.String({ maxLength: 500 });

export const WebhookInput = t.Object(
  {
    url: Url,
    events: Events,
    tenant_ids: t.Optional(Tenants),
    enabled: t.Optional(t.Boolean({ default: true })),
    description: t.Optional(Description),
  },
  { examples: [{ url: "https://example.com/hooks/memory-mesh", events: ["message.indexed", "message.deleted"], description: "search index sync" }] },
);
export type WebhookInput = typeof WebhookInput.static;

export const WebhookUpdate = t.Object(
  { url: t.Optional(Url), events: t.Optional(Events), tenant_ids: t.Optional(Tenants), enabled: t.Optional(t.Boolean()), description: t.Optional(Description) },
  { examples: [{ enabled: true }] },
);
export type WebhookUpdate = typeof WebhookUpdate.static;

export const Webhook = t.Object(
  {
    id: t.String(),
    url: t.String(),
    events: t.Array(t.String()),
    tenant_ids: t.Union([t.Array(t.String()), t.Null()]),
    enabled: t.Boolean(),
    description: t.String(),
    disabled_reason: t.Union([t.String(), t.Null()], { description: "Why the server disabled it (410 Gone, too many failures)" }),
    consecutive_failures: t.Integer(),
    created_at: t.String({ format: "date-time" }),
    updated_at: t.String({ format: "date-time" }),
  },
  {
    examples: [
      { id: "wh_0192f3c45b6a7c8d9e0fa1b2c3d4e5f6", url: "https://example.com/hooks/memory-mesh", events: ["message.indexed"], tenant_ids: null, enabled: true, description: "", disabled_reason: null, consecutive_failures: 0, created_at: "2026-11-25T12:00:00.000Z", updated_at: "2026-11-25T12:00:00.000Z" },
    ],
  },
);
export type Webhook = typeof Webhook.static;

export const WebhookCreated = t.Composite([Webhook, t.Object({ secret: t.String({ description: "The signing secret (whsec_...): shown once, keep it" }) })]);
export const WebhookList = t.Object({ webhooks: t.Array(Webhook) });

export const SecretRotated = t.Object(
  {
    secret: t.String({ description: "The new signing secret, shown once" }),
    previous_valid_until: t.String({ format: "date-time", description: "Until then deliveries carry both signatures (space-separated)" }),
  },
  { examples: [{ secret: "whsec_...", previous_valid_until: "2026-11-26T12:00:00.000Z" }] },
);

export const Delivery = t.Object(
  {
    id: t.String({ description: "The event id: the `webhook-id` header, the same on every attempt" }),
    event_type: t.String(),
    status: t.UnionEnum(["pending", "succeeded", "failed"]),
    attempts: t.Integer(),
    response_status: t.Union([t.Integer(), t.Null()], { description: "The receiver's last HTTP status (null: no answer)" }),
    error: t.Union([t.String(), t.Null()], { description: "Why the last attempt failed" }),
    latency_ms: t.Union([t.Number(), t.Null()], { description: "How long the last attempt took" }),
    next_attempt_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
    created_at: t.String({ format: "date-time" }),
    last_attempt_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
  },
  {
    examples: [
      { id: "evt_0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6", event_type: "message.indexed", status: "succeeded", attempts: 1, response_status: 200, error: null, latency_ms: 12.5, next_attempt_at: null, created_at: "2026-11-25T12:00:00.000Z", last_attempt_at: "2026-11-25T12:00:00.020Z" },
    ],
  },
);
export type Delivery = typeof Delivery.static;

export const DeliveryList = t.Object({
  deliveries: t.Array(Delivery, { description: "Newest first" }),
  next_cursor: t.Union([t.String(), t.Null()]),
});

export const WebhookParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }) });
export const DeliveryParams = t.Object({
  id: t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }),
  delivery: t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }),
});
export const DeliveryQuery = t.Object({
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 200, multipleOf: 1, error: "limit: expected a whole number from 1 to 200" })),
  cursor: t.Optional(t.String({ maxLength: 1024 })),
});
