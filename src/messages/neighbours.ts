import type { Deps } from "../deps";
import { keys } from "../store/keys";
import type { Message } from "./model";
import { type LoadOptions, loadMessages } from "./read";

export interface Neighbours {
  before: Message[];
  after: Message[];
}

/**
 * Up to `before` and `after` messages around each given message in its conversation, in order
 * (two pipelined round trips plus the loads). A message no longer in its conversation has none.
 */
export async function conversationNeighbours(
  deps: Pick<Deps, "redis">,
  account: string,
  messages: Pick<Message, "id" | "tenant_id" | "conversation_id">[],
  before: number,
  after: number,
  options: LoadOptions = {},
): Promise<Neighbours[]> {
  const zkey = (m: (typeof messages)[number]) => keys.conversationMessages(account, m.tenant_id, m.conversation_id);
  const ranks = await Promise.all(messages.map((m) => deps.redis.zrank(zkey(m), m.id)));
  const windows = await Promise.all(
    messages.map((m, i) => {
      const rank = ranks[i];
      if (rank === null) return Promise.resolve([] as string[]);
      return deps.redis.zrange(zkey(m), String(Math.max(0, Number(rank) - before)), String(Number(rank) + after));
    }),
  );
  const ids = [...new Set(windows.flat())];
  const byId = new Map((await loadMessages(deps, account, ids, options)).map((m) => [m.id, m]));
  return messages.map((m, i) => {
    const window = windows[i];
    const at = window.indexOf(m.id);
    const pick = (list: string[]) => list.flatMap((id) => byId.get(id) ?? []);
    return at < 0 ? { before: [], after: [] } : { before: pick(window.slice(0, at)), after: pick(window.slice(at + 1)) };
  });
}
