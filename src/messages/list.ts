import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { invalidCursor } from "../errors";
import { keys } from "../store/keys";
import { type SortedPosition, sortedPage } from "../store/sorted-pages";
import { retentionCutoff } from "../tenants/policy";
import { isLive, type Message, toMessage } from "./model";
import { loadRows } from "./read";

export interface ListInput {
  tenant: string;
  conversation?: string;
  roles?: string[];
  statuses?: string[];
  createdAfter?: number;
  createdBefore?: number;
  order: "newest" | "oldest";
  limit: number;
  cursor?: string;
}

/** Entries looked at per request at most: a page with filters that match little comes back short, with a cursor. */
const EXAMINE_BUDGET = 5000;
const READ_STEP = 250;

interface CursorBody {
  v: 1;
  /** score and member of the last entry looked at */
  s: number;
  m: string;
  o: ListInput["order"];
  /** the conversation listed, or null for the tenant */
  c: string | null;
}

export function encodeCursor(position: SortedPosition, input: Pick<ListInput, "order" | "conversation">): string {
  const body: CursorBody = { v: 1, s: position.score, m: position.member, o: input.order, c: input.conversation ?? null };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decodeCursor(cursor: string, input: ListInput): SortedPosition {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (body?.v !== 1 || typeof body.s !== "number" || !Number.isFinite(body.s) || typeof body.m !== "string")
    throw invalidCursor();
  if (body.o !== input.order) throw invalidCursor(`made for order=${body.o}`);
  if (body.c !== (input.conversation ?? null)) throw invalidCursor("made for another conversation_id");
  return { score: body.s, member: body.m };
}

/**
 * A tenant's messages (or one conversation's), newest or oldest first, with filters, a page at a
 * time. The cursor names the last entry looked at, so pages neither repeat nor skip messages while
 * others are added. Role and status are filtered while reading: a page may hold fewer than `limit`
 * messages with a `next_cursor` (at most EXAMINE_BUDGET entries are looked at per request).
 * Expired messages are never listed.
 */
export async function listMessages(deps: Pick<Deps, "redis">, principal: Principal, input: ListInput): Promise<{ messages: Message[]; next_cursor: string | null }> {
  assertTenant(principal, input.tenant, "read");
  const { account } = principal;
  const key = input.conversation === undefined ? keys.tenantMessages(account, input.tenant) : keys.conversationMessages(account, input.tenant, input.conversation);
  let after = input.cursor ? decodeCursor(input.cursor, input) : undefined;
  const now = Date.now();
  const cutoffMs = await retentionCutoff(deps.redis, account, input.tenant, now);
  const range = {
    min: input.createdAfter === undefined ? undefined : input.createdAfter * 1000,
    maxExclusive: input.createdBefore === undefined ? undefined : input.createdBefore * 1000,
    reverse: input.order === "newest",
  };
  const messages: Message[] = [];
  for (let examined = 0; examined < EXAMINE_BUDGET; ) {
    const want = Math.min(READ_STEP, EXAMINE_BUDGET - examined);
    const entries = await sortedPage(deps.redis, key, { ...range, after }, want);
    const rows = await loadRows(deps, account, entries.map((e) => e.member));
    for (const [i, entry] of entries.entries()) {
      after = entry;
      examined++;
      const row = rows[i];
      if (!row.id || !isLive(row, now, cutoffMs)) continue;
      if (input.roles && !input.roles.includes(row.role)) continue;
      if (input.statuses && !input.statuses.includes(row.status)) continue;
      messages.push(toMessage(row));
      if (messages.length === input.limit) return { messages, next_cursor: encodeCursor(entry, input) };
    }
    if (entries.length < want) return { messages, next_cursor: null };
  }
  return { messages, next_cursor: after ? encodeCursor(after, input) : null };
}
