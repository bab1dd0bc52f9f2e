import { Elysia, t } from "elysia";
import { requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, MessageId, noContent, refuseNonObjectMetadata, security } from "../http/schemas";
import { acceptMessages } from "./accept";
import { BatchCreated, BatchInput, Message, MessageInput } from "./model";
import { getMessage } from "./read";
import { deleteMessage } from "./remove";

const IdempotencyHeaders = t.Object({
  "idempotency-key": t.Optional(t.String({ minLength: 1, maxLength: 255, description: "Makes a retry safe: stored once, same answer" })),
});

export function messageRoutes(deps: Deps) {
  // Writes charge the rate limit inside the accept script: one round trip per request.
  const writes = new Elysia({ prefix: "/v1/messages", tags: ["Messages"] })
    .derive(requireAuth(deps, { charge: false }))
    .post(
      "",
      async ({ principal, body, headers, set }) => {
        const { messages, rateHeaders } = await acceptMessages(deps, principal, [body], { idempotencyKey: headers["idempotency-key"], batch: false });
        Object.assign(set.headers, rateHeaders);
        set.status = 202;
        return messages[0];
      },
      {
        transform: refuseNonObjectMetadata,
        body: MessageInput,
        headers: IdempotencyHeaders,
        response: { 202: Message, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
        detail: {
          operationId: "storeMessage",
          summary: "Store a message; answered once it is durably stored and queued (202), indexed in the background",
          description:
            "The answer has `status: pending`; GET /v1/messages/{id} or the WebSocket tells when it is `indexed`. A retry with the same `Idempotency-Key` (or the same `id`) is stored once.",
          security,
        },
      },
    )
    .post(
      "/batch",
      async ({ principal, body, headers, set }) => {
        const cost = 1 + Math.floor(body.messages.length / deps.config.RATE_LIMIT_BATCH_UNIT);
        const { messages, rateHeaders } = await acceptMessages(deps, principal, body.messages, { idempotencyKey: headers["idempotency-key"], batch: true, cost });
        Object.assign(set.headers, rateHeaders);
        set.status = 202;
        return { created: messages };
      },
      {
        transform: refuseNonObjectMetadata,
        body: BatchInput,
        headers: IdempotencyHeaders,
        response: { 202: BatchCreated, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
        detail: {
          operationId: "storeMessages",
          summary: "Store 1 to 1,000 messages at once; all or nothing (a 400 names each bad item)",
          description: "`created` lists the stored messages in input order. Costs 1 + n / RATE_LIMIT_BATCH_UNIT of the rate limit.",
          security,
        },
      },
    );

  const reads = new Elysia({ prefix: "/v1/messages", tags: ["Messages"] })
    .derive(requireAuth(deps))
    .get("/:id", ({ principal, params }) => getMessage(deps, principal, params.id), {
      params: t.Object({ id: MessageId }),
      response: { 200: Message, ...errors(401, 403, 404) },
      detail: {
        operationId: "getMessage",
        summary: "A message with its indexing status (pending, indexed or failed)",
        description: "`error` says why indexing failed when `status` is `failed`.",
        security,
      },
    })
    .delete(
      "/:id",
      async ({ principal, params, set }) => {
        await deleteMessage(deps, principal, params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: MessageId }),
        detail: {
          operationId: "deleteMessage",
          summary: "Delete a message; it leaves search and history at once",
          description: "Its vector is removed too; WebSocket subscribers get `message.deleted`.",
          security,
          responses: noContent(400, 401, 403, 404),
        },
      },
    );

  return new Elysia().use(writes).use(reads);
}
