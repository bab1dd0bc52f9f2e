import { Elysia, t } from "elysia";
import { batchCost, requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, MessageId, noContent, refuseNonObjectMetadata, security } from "../http/schemas";
import { acceptMessages } from "./accept";
import { DataJob, DeleteFilter } from "../jobs/model";
import { startDataJob } from "../jobs/service";
import { validationFailed } from "../errors";
import type { FieldError } from "../http/error-response";
import { listMessages } from "./list";
import { BatchCreated, BatchInput, ListMessagesQuery, Message, MessageInput, MessagePage, MessageUpdate } from "./model";
import { getMessage } from "./read";
import { deleteMessage } from "./remove";
import { timeFields } from "./timestamps";
import { updateMessage } from "./update";

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
        const cost = batchCost(deps.config, body.messages.length);
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
    .get("", ({ principal, query }) => listMessages(deps, principal, toListInput(query)), {
      query: ListMessagesQuery,
      response: { 200: MessagePage, ...errors(400, 401, 403, 429) },
      detail: {
        operationId: "listMessages",
        summary: "A tenant's messages (or one conversation's), newest or oldest first, with filters; cursor pagination",
        description:
          "Pages stay right while messages are added: the cursor is a position, not an offset. `status=pending` lists what is not yet searchable. Expired messages are never listed.",
        security,
      },
    })
    .patch("/:id", ({ principal, params, body }) => updateMessage(deps, principal, params.id, body), {
      transform: refuseNonObjectMetadata,
      params: t.Object({ id: MessageId }),
      body: MessageUpdate,
      response: { 200: Message, ...errors(400, 401, 403, 404, 413, 415, 429) },
      detail: {
        operationId: "updateMessage",
        summary: "Update a message's content, metadata, importance or expiry (only the fields given)",
        description:
          "New content is embedded again: the message is `pending` (out of search) until `message.indexed`. Metadata and importance reach the index at once, without embedding. Concurrent updates: the last one wins. Subscribers get `message.updated`.",
        security,
      },
    })
    .post(
      "/delete",
      async ({ principal, body, set }) => {
        set.status = 202;
        return startDataJob(deps, principal, "delete", body.tenant_id, body);
      },
      {
        body: DeleteFilter,
        response: { 202: DataJob, ...errors(400, 401, 403, 413, 415, 429, 503) },
        detail: {
          operationId: "deleteMessagesByFilter",
          summary: "Delete a tenant's messages matching a filter (a job): conversation, time range, metadata",
          description:
            "Answers 202 with a job; `GET /v1/jobs/{id}` shows its progress and how many were deleted. Filters combine (all must hold); none deletes every message of the tenant (conversations stay). Runs in small steps on the workers, never holding Redis up; subscribers get `message.deleted` with reason `filter`.",
          security,
        },
      },
    )
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

function toListInput(query: typeof ListMessagesQuery.static) {
  const problems: FieldError[] = [];
  const { created_after: createdAfter, created_before: createdBefore } = timeFields(query, ["created_after", "created_before"], problems);
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
  return {
    tenant: query.tenant_id,
    conversation: query.conversation_id,
    roles: query.role?.split(","),
    statuses: query.status?.split(","),
    createdAfter,
    createdBefore,
    order: query.order ?? "newest",
    limit: query.limit ?? 100,
    cursor: query.cursor,
  };
}
