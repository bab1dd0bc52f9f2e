import { Elysia } from "elysia";
import { requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, noContent, security } from "../http/schemas";
import { Delivery, DeliveryList, DeliveryParams, DeliveryQuery, SecretRotated, Webhook, WebhookCreated, WebhookInput, WebhookList, WebhookParams, WebhookUpdate } from "./model";
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, retryDelivery, rotateSecret, testWebhook, updateWebhook } from "./service";

const SIGNING = [
  "Deliveries are POSTs of `{type, timestamp, data}` signed per Standard Webhooks: headers `webhook-id` (the event id, the same on every retry: deduplicate on it),",
  "`webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` under the base64 part of the `whsec_` secret; during a rotation two, space-separated).",
  "Any 2xx is success; other answers are retried on WEBHOOK_RETRY_SCHEDULE_MS (a longer Retry-After wins); 410 disables the endpoint, as do WEBHOOK_DISABLE_AFTER_FAILURES failures in a row.",
  "Redirects are not followed. Order is not promised: use `timestamp` and the message's own times.",
].join(" ");

export function webhookRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/webhooks", tags: ["Webhooks"] })
    .derive(requireAuth(deps))
    .post(
      "",
      async ({ principal, body, set }) => {
        set.status = 201;
        return createWebhook(deps, principal, body);
      },
      {
        body: WebhookInput,
        response: { 201: WebhookCreated, ...errors(400, 401, 403, 409, 413, 415, 429) },
        detail: {
          operationId: "createWebhook",
          summary: "Create a webhook endpoint; the answer holds its signing secret, shown once",
          description: `The URL must be http(s) and resolve to public addresses (400 \`invalid_webhook_url\` otherwise). ${SIGNING}`,
          security,
        },
      },
    )
    .get("", ({ principal }) => listWebhooks(deps, principal), {
      response: { 200: WebhookList, ...errors(401, 429) },
      detail: { operationId: "listWebhooks", summary: "Your webhook endpoints", description: "Secrets are never shown again.", security },
    })
    .get("/:id", ({ principal, params }) => getWebhook(deps, principal, params.id), {
      params: WebhookParams,
      response: { 200: Webhook, ...errors(400, 401, 404, 429) },
      detail: { operationId: "getWebhook", summary: "One webhook endpoint", description: "`disabled_reason` says why the server disabled it.", security },
    })
    .patch("/:id", ({ principal, params, body }) => updateWebhook(deps, principal, params.id, body), {
      params: WebhookParams,
      body: WebhookUpdate,
      response: { 200: Webhook, ...errors(400, 401, 403, 404, 413, 415, 429) },
      detail: {
        operationId: "updateWebhook",
        summary: "Change a webhook's URL, events, tenants, description, or enable it again",
        description: "`enabled: true` clears `disabled_reason` and the failure count.",
        security,
      },
    })
    .delete(
      "/:id",
      async ({ principal, params, set }) => {
        await deleteWebhook(deps, principal, params.id);
        set.status = 204;
      },
      {
        params: WebhookParams,
        detail: { operationId: "deleteWebhook", summary: "Delete a webhook endpoint and its delivery log", description: "Queued deliveries to it stop.", security, responses: noContent(400, 401, 403, 404, 429) },
      },
    )
    .post("/:id/rotate-secret", ({ principal, params }) => rotateSecret(deps, principal, params.id), {
      params: WebhookParams,
      response: { 200: SecretRotated, ...errors(400, 401, 403, 404, 429) },
      detail: {
        operationId: "rotateWebhookSecret",
        summary: "A new signing secret; the previous one stays valid for WEBHOOK_SECRET_GRACE_S",
        description: "Until `previous_valid_until`, deliveries carry both signatures, space-separated.",
        security,
      },
    })
    .post(
      "/:id/test",
      async ({ principal, params, set }) => {
        set.status = 202;
        return testWebhook(deps, principal, params.id);
      },
      {
        params: WebhookParams,
        response: { 202: Delivery, ...errors(400, 401, 403, 404, 429) },
        detail: { operationId: "testWebhook", summary: "Send a `webhook.test` event to this endpoint", description: "Delivered like any event; its delivery is in the log.", security },
      },
    )
    .get("/:id/deliveries", ({ principal, params, query }) => listDeliveries(deps, principal, params.id, query.limit ?? 50, query.cursor), {
      params: WebhookParams,
      query: DeliveryQuery,
      response: { 200: DeliveryList, ...errors(400, 401, 404, 429) },
      detail: {
        operationId: "listWebhookDeliveries",
        summary: "The endpoint's deliveries, newest first: status, attempts, last answer, latency, next attempt",
        description: "Kept WEBHOOK_LOG_RETENTION_S (and through their retries).",
        security,
      },
    })
    .post(
      "/:id/deliveries/:delivery/retry",
      async ({ principal, params, set }) => {
        set.status = 202;
        return retryDelivery(deps, principal, params.id, params.delivery);
      },
      {
        params: DeliveryParams,
        response: { 202: Delivery, ...errors(400, 401, 403, 404, 429) },
        detail: { operationId: "retryWebhookDelivery", summary: "Deliver again (same `webhook-id`), with a new round of attempts", description: "Any state; a succeeded delivery is sent again too.", security },
      },
    );
}
