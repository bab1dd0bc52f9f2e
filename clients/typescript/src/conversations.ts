import { type CallOptions, segment, type Transport } from "./transport.js";
import type { Conversation, ConversationHistory, ConversationList, ConversationQuery, HistoryQuery, ListConversationsQuery, UpsertConversationInput } from "./types.js";

/** Conversations (created by storing a message into them, or by `upsert`) and their history. */
export class Conversations {
  constructor(private readonly http: Transport) {}

  /** Creates the conversation or sets its title and metadata. */
  upsert(input: UpsertConversationInput, options: CallOptions = {}): Promise<Conversation> {
    return this.http.json({ method: "POST", path: "/v1/conversations", json: input, auth: true, repeatable: true, signal: options.signal });
  }

  /** `tenant_id` is needed when the id exists in several tenants (409 `ambiguous_conversation` otherwise). */
  get(conversationId: string, query: ConversationQuery = {}, options: CallOptions = {}): Promise<Conversation> {
    return this.http.json({ method: "GET", path: `/v1/conversations/${segment(conversationId)}`, query, auth: true, repeatable: true, signal: options.signal });
  }

  /** A tenant's conversations, newest activity first (`limit`, `offset`; `total` counts them all). */
  list(query: ListConversationsQuery, options: CallOptions = {}): Promise<ConversationList> {
    return this.http.json({ method: "GET", path: "/v1/conversations", query, auth: true, repeatable: true, signal: options.signal });
  }

  /** The conversation's messages, oldest first (`limit`, `offset`). */
  history(conversationId: string, query: HistoryQuery = {}, options: CallOptions = {}): Promise<ConversationHistory> {
    return this.http.json({ method: "GET", path: `/v1/conversations/${segment(conversationId)}/messages`, query, auth: true, repeatable: true, signal: options.signal });
  }

  /** Deletes the conversation with its messages and their vectors. */
  delete(conversationId: string, query: ConversationQuery = {}, options: CallOptions = {}): Promise<void> {
    return this.http.none({ method: "DELETE", path: `/v1/conversations/${segment(conversationId)}`, query, auth: true, repeatable: false, signal: options.signal });
  }
}
