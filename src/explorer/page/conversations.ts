import type { Conversation, ConversationList } from "../../conversations/model";
import type { MessageEvent } from "../../events/model";
import { getJson, query } from "./api";
import { count, fill, h, plural, timeOf } from "./dom";
import { historyView } from "./history";
import { showError, showInfo } from "./notices";

type List = typeof ConversationList.static;

const LIST_PAGE = 20;

export interface ConversationsView {
  element: HTMLElement;
  event(event: MessageEvent): void;
  /** Reads the list and the open history again (after the live stream was broken). */
  reload(): Promise<void>;
  /** Opens a conversation and scrolls to one of its messages, highlighted and focused. */
  openMessage(conversation: string, messageId: string): Promise<void>;
}

/**
 * Calls `fn` once for a burst of calls, `ms` after the first: events come in bursts while workers
 * index, and during a long one the page still catches up every `ms`.
 */
export function batched(fn: () => void, ms: number): () => void {
  let waiting = false;
  return () => {
    if (waiting) return;
    waiting = true;
    setTimeout(() => {
      waiting = false;
      fn();
    }, ms);
  };
}

/** A tenant's conversations (newest activity first, paginated) next to the open one's history. */
export function conversationsView(tenant: string, countsChanged: () => void): ConversationsView {
  let offset = 0;
  let total = 0;
  let conversations: Conversation[] = [];

  const list = h("ol", { class: "conversation-list", "aria-labelledby": "conversations-title" });
  const listState = h("p", { class: "muted pager-state", "aria-live": "polite" });
  const newer = h("button", { type: "button", class: "button quiet small" }, "‹ Newer");
  const older = h("button", { type: "button", class: "button quiet small" }, "Older ›");

  const renderList = () => {
    const open = history.current();
    fill(
      list,
      conversations.map((c) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "conversation", "data-conversation": c.conversation_id, "aria-current": c.conversation_id === open ? "true" : undefined, on: { click: () => void openChosen(c.conversation_id) } },
            h("span", { class: "conversation-name" }, c.title ? `${c.title}` : c.conversation_id),
            c.title ? h("span", { class: "conversation-id" }, c.conversation_id) : null,
            h("span", { class: "conversation-meta" }, `${plural(c.message_count, "message")} · `, timeOf(c.last_message_at ?? c.updated_at)),
          ),
        ),
      ),
    );
    listState.textContent = total ? `${offset + 1}–${offset + conversations.length} of ${count(total)}` : "No conversations";
    newer.disabled = offset === 0;
    older.disabled = offset + conversations.length >= total;
  };

  const loadList = async (): Promise<void> => {
    const page = await getJson<List>(`/v1/conversations?${query({ tenant_id: tenant, limit: LIST_PAGE, offset })}`);
    if (page.conversations.length === 0 && offset > 0 && page.total > 0) {
      offset = Math.max(0, Math.floor((page.total - 1) / LIST_PAGE) * LIST_PAGE);
      return loadList();
    }
    conversations = page.conversations;
    total = page.total;
    renderList();
  };
  const showList = () => loadList().catch((error) => showError("Could not list the conversations", error));
  const listChanged = batched(showList, 400);
  newer.addEventListener("click", () => {
    offset = Math.max(0, offset - LIST_PAGE);
    void showList();
  });
  older.addEventListener("click", () => {
    offset += LIST_PAGE;
    void showList();
  });

  const history = historyView(tenant, {
    messagesChanged() {
      countsChanged();
      listChanged();
    },
    async conversationDeleted() {
      countsChanged();
      await showList();
      (list.querySelector("button") as HTMLElement | null)?.focus();
    },
  });

  const openConversation = async (conversation: string, seek?: string) => {
    const opening = history.open(conversation, conversations.find((c) => c.conversation_id === conversation)?.title ?? null, seek);
    renderList();
    await opening;
  };

  /** Opened from the list: on a narrow window the history is below the list, so it is brought into view. */
  const openChosen = async (conversation: string) => {
    await openConversation(conversation);
    if (matchMedia("(max-width: 900px)").matches) history.element.scrollIntoView({ block: "start" });
  };

  const element = h(
    "div",
    { class: "conversations" },
    h(
      "section",
      { class: "conversation-panel panel", "aria-labelledby": "conversations-title" },
      h("div", { class: "panel-head" }, h("h3", { id: "conversations-title" }, "Conversations")),
      list,
      h("div", { class: "pager" }, newer, listState, older),
    ),
    history.element,
  );

  return {
    element,
    event(event) {
      if (event.type === "message.created" || event.type === "message.deleted") listChanged();
      history.event(event);
    },
    async reload() {
      await loadList();
      const open = history.current();
      if (open) await openConversation(open);
    },
    async openMessage(conversation, messageId) {
      await openConversation(conversation, messageId);
      if (!history.reveal(messageId)) showInfo("That message is no longer in its conversation (deleted or expired).");
    },
  };
}
