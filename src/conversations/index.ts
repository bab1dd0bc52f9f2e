import { Elysia, t } from "elysia";
import { requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { ConversationId, errors, given, noContent, refuseNonObjectMetadata, security } from "../http/schemas";
import { Conversation, ConversationList, ConversationQuery, History, HistoryQuery, ListQuery, UpsertConversation } from "./model";
import { deleteConversation, getConversation, listConversations, listHistory, upsertConversation } from "./service";

const Params = t.Object({ conversation_id: ConversationId });

export function conversationRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/conversations", tags: ["Conversations"] })
    .derive(requireAuth(deps))
    .post(
      "",
      async ({ principal, body, set }) => {
        const { created, conversation } = await upsertConversation(deps, principal, {
          tenant: body.tenant_id,
          conversation: body.conversation_id,
          title: given(body.title),
          metadata: given(body.metadata),
        });
        set.status = created ? 201 : 200;
        return conversation;
      },
      {
        transform: refuseNonObjectMetadata,
        body: UpsertConversation,
        response: { 200: Conversation, 201: Conversation, ...errors(400, 401, 403) },
        detail: {
          operationId: "upsertConversation",
          summary: "Create a conversation (201) or update its title/metadata (200)",
          description: "Storing a message creates its conversation too; this sets a title or metadata.",
          security,
        },
      },
    )
    .get("", ({ principal, query }) => listConversations(deps, principal, query.tenant_id, query.limit ?? 20, query.offset ?? 0), {
      query: ListQuery,
      response: { 200: ConversationList, ...errors(400, 401, 403) },
      detail: {
        operationId: "listConversations",
        summary: "A tenant's conversations, newest activity first",
        description: "Paginated with `limit` and `offset`; `total` counts them all.",
        security,
      },
    })
    .get("/:conversation_id", ({ principal, params, query }) => getConversation(deps, principal, params.conversation_id, query.tenant_id), {
      params: Params,
      query: ConversationQuery,
      response: { 200: Conversation, ...errors(401, 403, 404, 409) },
      detail: {
        operationId: "getConversation",
        summary: "One conversation (pass tenant_id if the id is used in several tenants)",
        description: "409 `ambiguous_conversation` (with the `tenant_ids` in `details`) when the id exists in several tenants and none is given.",
        security,
      },
    })
    .get(
      "/:conversation_id/messages",
      ({ principal, params, query }) =>
        listHistory(deps, principal, params.conversation_id, query.tenant_id, query.limit ?? 100, query.offset ?? 0),
      {
        params: Params,
        query: HistoryQuery,
        response: { 200: History, ...errors(401, 403, 404, 409) },
        detail: {
          operationId: "listConversationMessages",
          summary: "The conversation's messages in order, paginated",
          description: "Oldest first, with each message's indexing status; `total` counts them all.",
          security,
        },
      },
    )
    .delete(
      "/:conversation_id",
      async ({ principal, params, query, set }) => {
        await deleteConversation(deps, principal, params.conversation_id, query.tenant_id);
        set.status = 204;
      },
      {
        params: Params,
        query: ConversationQuery,
        detail: {
          operationId: "deleteConversation",
          summary: "Delete a conversation with all its messages and vectors",
          description: "Pass `tenant_id` when the id exists in several tenants (409 otherwise).",
          security,
          responses: noContent(400, 401, 403, 404, 409),
        },
      },
    );
}
