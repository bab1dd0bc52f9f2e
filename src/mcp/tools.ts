import type { TSchema } from "elysia";
import { Value } from "@sinclair/typebox/value";
import { batchCost } from "../auth/credentials";
import type { Principal } from "../auth/model";
import { deleteConversation, listConversations, listHistory } from "../conversations/service";
import type { Deps } from "../deps";
import { AppError, validationFailed } from "../errors";
import { errorToResponse, fieldErrors } from "../http/error-response";
import type { SearchBody, SearchResult } from "../memory/model";
import { type QueryEmbedder, searchMemory } from "../memory/search";
import { toSearchInput } from "../memory/search-input";
import { acceptMessages } from "../messages/accept";
import type { Message } from "../messages/model";
import { deleteMessage } from "../messages/remove";
import {
  ForgetInput,
  ForgetOutput,
  GetConversationInput,
  GetConversationOutput,
  ListConversationsInput,
  ListConversationsOutput,
  RememberInput,
  RememberOutput,
  SearchMemoryInput,
  SearchMemoryOutput,
} from "./model";

/** A tool as MCP lists it, with how it runs and how its result reads as text. */
export interface Tool<I extends TSchema = TSchema, R = unknown> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: TSchema;
  annotations: { readOnlyHint: boolean; destructiveHint?: boolean; idempotentHint?: boolean };
  run(deps: Deps, embedQuery: QueryEmbedder, principal: Principal, args: I["static"]): Promise<R>;
  text(result: R): string;
}

const line = (m: Pick<Message, "role" | "content" | "created_at">) => `[${m.created_at}] ${m.role}: ${m.content}`;

const tool = <I extends TSchema, R>(definition: Tool<I, R>): Tool => definition as unknown as Tool;

export const TOOLS: Tool[] = [
  tool({
    name: "search_memory",
    title: "Search memory",
    description: [
      "Find what was said before that is relevant to a question, in one tenant's stored messages.",
      "Use it before answering anything that may depend on earlier conversations (names, preferences, dates, plans).",
      "`mode`: hybrid (default: keywords and meaning), semantic (meaning, paraphrases), keyword (exact words, names, numbers).",
      "Filters (all optional, combined): conversation_id, role (one or a list), created_after / created_before (ISO-8601),",
      "metadata (top-level values that must be equal), min_importance, min_score. `context` adds neighbouring messages of each hit.",
      "Results are best first, each with its score, role, conversation and time.",
    ].join(" "),
    inputSchema: SearchMemoryInput,
    outputSchema: SearchMemoryOutput,
    annotations: { readOnlyHint: true },
    run: async (deps, embedQuery, principal, args: SearchBody) => ({ results: await searchMemory(deps, embedQuery, principal, toSearchInput(args)) }),
    text: ({ results }: { results: SearchResult[] }) =>
      results.length === 0
        ? "No matching memories."
        : results.map((r, i) => `${i + 1}. (score ${r.score.toFixed(3)}, conversation ${r.conversation_id}, id ${r.id}) ${line(r)}`).join("\n"),
  }),
  tool({
    name: "remember",
    title: "Remember messages",
    description: [
      "Store one or more messages of a conversation so they can be found later with search_memory.",
      "Store what the user said and what you answered, in order. They become searchable within seconds (status `pending`, then `indexed`).",
      "Giving an `id` makes a retry safe: the same id with the same content is stored once.",
    ].join(" "),
    inputSchema: RememberInput,
    outputSchema: RememberOutput,
    annotations: { readOnlyHint: false, idempotentHint: false },
    run: async (deps, _embed, principal, args: typeof RememberInput.static) => {
      const inputs = args.messages.map((m) => ({ ...m, tenant_id: args.tenant_id, conversation_id: args.conversation_id }));
      const { messages } = await acceptMessages(deps, principal, inputs, { batch: true, cost: batchCost(deps.config, inputs.length) });
      return { stored: messages.map((m) => ({ id: m.id, status: m.status })) };
    },
    text: ({ stored }: { stored: { id: string; status: string }[] }) =>
      `Stored ${stored.length} message(s): ${stored.map((s) => s.id).join(", ")} (searchable once indexed, within seconds).`,
  }),
  tool({
    name: "get_conversation",
    title: "Read a conversation",
    description:
      "The messages of one conversation in the order they were said, a page at a time (`limit`, `offset`), each with its indexing status. Pass tenant_id when the conversation id is used in several tenants.",
    inputSchema: GetConversationInput,
    outputSchema: GetConversationOutput,
    annotations: { readOnlyHint: true },
    run: (deps, _embed, principal, args: typeof GetConversationInput.static) =>
      listHistory(deps, principal, args.conversation_id, args.tenant_id, args.limit ?? 100, args.offset ?? 0),
    text: (history: typeof GetConversationOutput.static) =>
      [`Conversation ${history.conversation_id} (tenant ${history.tenant_id}), messages ${history.offset + 1}-${history.offset + history.messages.length} of ${history.total}:`, ...history.messages.map(line)].join("\n"),
  }),
  tool({
    name: "list_conversations",
    title: "List conversations",
    description: "A tenant's conversations, most recently active first, with their titles and message counts; a page at a time (`limit`, `offset`).",
    inputSchema: ListConversationsInput,
    outputSchema: ListConversationsOutput,
    annotations: { readOnlyHint: true },
    run: (deps, _embed, principal, args: typeof ListConversationsInput.static) => listConversations(deps, principal, args.tenant_id, args.limit ?? 20, args.offset ?? 0),
    text: (list: typeof ListConversationsOutput.static) =>
      list.conversations.length === 0
        ? "No conversations."
        : [
            `${list.total} conversation(s); showing ${list.offset + 1}-${list.offset + list.conversations.length}:`,
            ...list.conversations.map((c) => `- ${c.conversation_id}${c.title ? ` "${c.title}"` : ""}: ${c.message_count} message(s), last ${c.last_message_at ?? c.updated_at}`),
          ].join("\n"),
  }),
  tool({
    name: "forget",
    title: "Forget",
    description:
      "Delete a message (message_id) or a whole conversation (conversation_id, with tenant_id if needed) for good: it leaves search at once. Use it when the user asks to forget something.",
    inputSchema: ForgetInput,
    outputSchema: ForgetOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    run: async (deps, _embed, principal, args: typeof ForgetInput.static) => {
      if ((args.message_id === undefined) === (args.conversation_id === undefined)) {
        throw validationFailed("Invalid request: message_id", [{ field: "message_id", message: "Give message_id or conversation_id (one of them)" }]);
      }
      if (args.message_id !== undefined) {
        await deleteMessage(deps, principal, args.message_id);
        return { forgotten: "message", id: args.message_id };
      }
      await deleteConversation(deps, principal, args.conversation_id as string, args.tenant_id);
      return { forgotten: "conversation", id: args.conversation_id };
    },
    text: (r: typeof ForgetOutput.static) => `Forgot ${r.forgotten} ${r.id}.`,
  }),
];

/** What a tools/call answers: structured content and its text, or a tool error in the REST API's words (text only). */
export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/**
 * Runs a tool for a principal: arguments are checked against its schema (a 400's words), and any
 * failure (validation, 403, 404, 409, 429) becomes a tool error carrying the REST error body, so
 * an agent reads the same message a REST client would. Unexpected failures are a bare
 * "internal error" (logged by the caller), never a protocol crash.
 */
export async function callTool(deps: Deps, embedQuery: QueryEmbedder, principal: Principal, name: string, args: unknown, requestId: string): Promise<ToolResult> {
  const found = TOOLS.find((t) => t.name === name);
  try {
    if (!found) throw new AppError(404, "unknown_tool", `Unknown tool "${name}"; tools: ${TOOLS.map((t) => t.name).join(", ")}`);
    const given = args ?? {};
    const problems = fieldErrors({ all: [...Value.Errors(found.inputSchema, given)] });
    if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
    const result = await found.run(deps, embedQuery, principal, given);
    return { content: [{ type: "text", text: found.text(result) }], structuredContent: result as Record<string, unknown> };
  } catch (error) {
    const { response, unexpected } = errorToResponse(500, error, requestId, deps.redis.status === "ready");
    if (unexpected) deps.log.error({ requestId, tool: name, err: error }, "tool failed");
    // The REST error body as text: structured content is reserved for the output schema's shape.
    const body = (await response.json()) as { message: string; code: string; details?: unknown };
    const details = body.details === undefined ? "" : ` ${JSON.stringify(body.details)}`;
    return { content: [{ type: "text", text: `${body.message} (${response.status} ${body.code})${details}` }], isError: true };
  }
}
