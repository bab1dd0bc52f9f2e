import { type CallOptions, segment, type Transport } from "./transport.js";
import type { DeliveryList, ListDeliveriesQuery, NewWebhook, RotatedSecret, Webhook, WebhookDelivery, WebhookInput, WebhookList, WebhookUpdate } from "./types.js";

/**
 * Webhook endpoints of the account: the server POSTs the chosen events to them, signed per
 * Standard Webhooks (verify with the `secret`, shown only when created or rotated).
 */
export class Webhooks {
  constructor(private readonly http: Transport) {}

  /** A new endpoint; the answer holds its signing secret (`whsec_...`), shown only this once. */
  create(input: WebhookInput, options: CallOptions = {}): Promise<NewWebhook> {
    return this.http.json({ method: "POST", path: "/v1/webhooks", json: input, auth: true, repeatable: false, signal: options.signal });
  }

  list(options: CallOptions = {}): Promise<WebhookList> {
    return this.http.json({ method: "GET", path: "/v1/webhooks", auth: true, repeatable: true, signal: options.signal });
  }

  get(id: string, options: CallOptions = {}): Promise<Webhook> {
    return this.http.json({ method: "GET", path: `/v1/webhooks/${segment(id)}`, auth: true, repeatable: true, signal: options.signal });
  }

  /** Changes the fields given; `enabled: true` enables an endpoint the server disabled again. */
  update(id: string, update: WebhookUpdate, options: CallOptions = {}): Promise<Webhook> {
    return this.http.json({ method: "PATCH", path: `/v1/webhooks/${segment(id)}`, json: update, auth: true, repeatable: true, signal: options.signal });
  }

  /** Deletes the endpoint and its delivery log. */
  delete(id: string, options: CallOptions = {}): Promise<void> {
    return this.http.none({ method: "DELETE", path: `/v1/webhooks/${segment(id)}`, auth: true, repeatable: false, signal: options.signal });
  }

  /** A new signing secret; deliveries carry both signatures until `previous_valid_until`. */
  rotateSecret(id: string, options: CallOptions = {}): Promise<RotatedSecret> {
    return this.http.json({ method: "POST", path: `/v1/webhooks/${segment(id)}/rotate-secret`, auth: true, repeatable: false, signal: options.signal });
  }

  /** Sends a `webhook.test` event to the endpoint; answers its delivery (see `deliveries`). */
  test(id: string, options: CallOptions = {}): Promise<WebhookDelivery> {
    return this.http.json({ method: "POST", path: `/v1/webhooks/${segment(id)}/test`, auth: true, repeatable: false, signal: options.signal });
  }

  /** One page of the endpoint's deliveries, newest first; pass `next_cursor` as `cursor` for the next. */
  deliveries(id: string, query: ListDeliveriesQuery = {}, options: CallOptions = {}): Promise<DeliveryList> {
    return this.http.json({ method: "GET", path: `/v1/webhooks/${segment(id)}/deliveries`, query, auth: true, repeatable: true, signal: options.signal });
  }

  /** Every delivery in the log, page after page. */
  async *allDeliveries(id: string, query: ListDeliveriesQuery = {}, options: CallOptions = {}): AsyncGenerator<WebhookDelivery, void, undefined> {
    let cursor = query.cursor;
    do {
      const page = await this.deliveries(id, { ...query, cursor }, options);
      yield* page.deliveries;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Delivers an event again (same `webhook-id`), with a new round of attempts. */
  retryDelivery(id: string, deliveryId: string, options: CallOptions = {}): Promise<WebhookDelivery> {
    return this.http.json({
      method: "POST",
      path: `/v1/webhooks/${segment(id)}/deliveries/${segment(deliveryId)}/retry`,
      auth: true,
      repeatable: false,
      signal: options.signal,
    });
  }
}
