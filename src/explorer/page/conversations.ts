import type { Conversation, ConversationList, History } from "../../conversations/model";
import type { MessageEvent } from "../../events/model";
import type { Message } from "../../messages/model";
import { getJson, query, request } from "./api";
import { confirmAction } from "./dialog";
import { announce, count, fill, h, plural, snippet, timeOf } from "./dom";
import { messageItem } from "./messages";
import { showError, showInfo } from "./notices";

type List = typeof ConversationList.static;
type Page = typeof History.static;

const LIST_PAGE = 20;
const HISTORY_PAGE = 200;
/** Pages read while looking for one message (a search result) in a long conversation. */
const SEEK_PAGE = 1000;

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

/**
 * A tenant's conversations (newest activity first, paginated) and the open conversation's history
 * in order, whose messages change status, appear and disappear as events arrive.
 */
export function conversationsView(tenant: string, countsChanged: () => void): ConversationsView {
  let offset = 0;
  let total = 0;
  let conversations: Conversation[] = [];
  let open: string | null = null;
  let loaded: Message[] = [];
  let historyTotal = 0;
  let generation = 0;
  const items = new Map<string, HTMLLIElement>();

  const list = h("ol", { class: "conversation-list", "aria-labelledby": "conversations-title" });
  const listState = h("p", { class: "muted pager-state", "aria-live": "polite" });
  const newer = h("button", { type: "button", class: "button quiet small" }, "‹ Newer");
  const older = h("button", { type: "button", class: "button quiet small" }, "Older ›");
  const history = h("section", { class: "history", "aria-label": "Conversation history" });
  fill(history, h("p", { class: "muted empty" }, "Choose a conversation to see its messages."));

  const renderList = () => {
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

  const loadList = async () => {
    const page = await getJson<List>(`/v1/conversations?${query({ tenant_id: tenant, limit: LIST_PAGE, offset })}`);
    if (page.conversations.length === 0 && offset > 0 && page.total > 0) {
      offset = Math.max(0, Math.floor((page.total - 1) / LIST_PAGE) * LIST_PAGE);
      return loadList();
    }
    conversations = page.conversations;
    total = page.total;
    renderList();
  };
  const listChanged = batched(() => loadList().catch((error) => showError("Could not list the conversations", error)), 400);
  newer.addEventListener("click", () => {
    offset = Math.max(0, offset - LIST_PAGE);
    loadList().catch((error) => showError("Could not list the conversations", error));
  });
  older.addEventListener("click", () => {
    offset += LIST_PAGE;
    loadList().catch((error) => showError("Could not list the conversations", error));
  });

  const historyPath = (conversation: string, limit: number, from: number) =>
    `/v1/conversations/${encodeURIComponent(conversation)}/messages?${query({ tenant_id: tenant, limit, offset: from })}`;

  const messageList = h("ol", { class: "messages", "aria-label": "Messages, oldest first" });
  const moreMessages = h("button", { type: "button", class: "button quiet" }, "Show later messages");
  const historyCount = h("span", {});

  const renderHistoryCount = () => {
    historyCount.textContent = plural(historyTotal, "message");
    moreMessages.hidden = loaded.length >= historyTotal;
  };

  const addItems = (messages: Message[]) => {
    for (const message of messages) {
      if (items.has(message.id)) continue;
      const item = messageItem(message, deleteMessage);
      items.set(message.id, item);
      messageList.append(item);
    }
  };

  const loadMore = async (limit: number) => {
    const conversation = open;
    const mine = generation;
    if (!conversation) return;
    const page = await getJson<Page>(historyPath(conversation, limit, loaded.length));
    if (mine !== generation) return;
    loaded.push(...page.messages.filter((m) => !items.has(m.id)));
    historyTotal = page.total;
    addItems(page.messages);
    renderHistoryCount();
  };
  moreMessages.addEventListener("click", () => loadMore(HISTORY_PAGE).catch((error) => showError("Could not read more messages", error)));

  async function openConversation(conversation: string, seek?: string): Promise<void> {
    const mine = ++generation;
    open = conversation;
    loaded = [];
    historyTotal = 0;
    items.clear();
    renderList();
    const remove = h("button", { type: "button", class: "button danger-outline small" }, "Delete conversation");
    remove.addEventListener("click", () => void deleteConversation(conversation));
    const title = conversations.find((c) => c.conversation_id === conversation)?.title;
    fill(messageList);
    fill(
      history,
      h(
        "div",
        { class: "history-head" },
        h("div", {}, h("h3", { id: "history-title", tabindex: "-1" }, title ?? conversation), h("div", { class: "history-sub" }, title ? `${conversation} · ` : "", historyCount)),
        remove,
      ),
      messageList,
      moreMessages,
    );
    try {
      await loadMore(seek ? SEEK_PAGE : HISTORY_PAGE);
      while (seek && mine === generation && !items.has(seek) && loaded.length < historyTotal) await loadMore(SEEK_PAGE);
    } catch (error) {
      showError("Could not read the conversation", error);
    }
  }

  /** Opened from the list: on a narrow window the history is below the list, so it is brought into view. */
  async function openChosen(conversation: string): Promise<void> {
    await openConversation(conversation);
    if (matchMedia("(max-width: 900px)").matches) history.scrollIntoView({ block: "start" });
  }

  async function deleteMessage(message: Message): Promise<void> {
    const sure = await confirmAction("Delete this message?", `“${snippet(message.content)}” is removed with its vector: search stops finding it at once. This cannot be undone.`, "Delete message");
    if (!sure) return;
    try {
      await request("DELETE", `/v1/messages/${encodeURIComponent(message.id)}`);
      removeItem(message.id);
      showInfo("Message deleted.");
      countsChanged();
      listChanged();
    } catch (error) {
      showError("Could not delete the message", error);
    }
  }

  async function deleteConversation(conversation: string): Promise<void> {
    const sure = await confirmAction("Delete this conversation?", `“${conversation}” and all ${count(historyTotal)} of its messages are deleted, with their vectors. This cannot be undone.`, "Delete conversation");
    if (!sure) return;
    try {
      await request("DELETE", `/v1/conversations/${encodeURIComponent(conversation)}?${query({ tenant_id: tenant })}`);
      if (open === conversation) {
        open = null;
        generation++;
        fill(history, h("p", { class: "muted empty" }, `Conversation “${conversation}” deleted.`));
      }
      showInfo(`Conversation “${conversation}” deleted.`);
      countsChanged();
      await loadList();
      (list.querySelector("button") as HTMLElement | null)?.focus();
    } catch (error) {
      showError("Could not delete the conversation", error);
    }
  }

  const removeItem = (id: string) => {
    const item = items.get(id);
    if (!item) return;
    const next = (item.nextElementSibling ?? item.previousElementSibling) as HTMLElement | null;
    const hadFocus = item.contains(document.activeElement);
    item.remove();
    items.delete(id);
    loaded = loaded.filter((m) => m.id !== id);
    historyTotal = Math.max(0, historyTotal - 1);
    renderHistoryCount();
    if (hadFocus) (next ?? (history.querySelector("h3") as HTMLElement | null))?.focus();
  };

  const replaceItem = (message: Message) => {
    const item = items.get(message.id);
    if (!item) return;
    const fresh = messageItem(message, deleteMessage);
    if (item.classList.contains("highlight")) fresh.classList.add("highlight");
    const hadFocus = item === document.activeElement;
    item.replaceWith(fresh);
    items.set(message.id, fresh);
    loaded = loaded.map((m) => (m.id === message.id ? message : m));
    if (hadFocus) fresh.focus();
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
    history,
  );

  return {
    element,
    event(event) {
      if (event.type === "message.created" || event.type === "message.deleted") listChanged();
      if (event.conversation_id !== open) return;
      if (event.type === "message.created" && !items.has(event.message.id)) {
        // Appended only when the history is read to its end; otherwise "Show later messages" gets it.
        historyTotal++;
        if (loaded.length === historyTotal - 1) {
          loaded.push(event.message);
          addItems([event.message]);
          announce(`New ${event.message.role} message, ${event.message.status}`);
        }
        renderHistoryCount();
      } else if (event.type === "message.deleted") removeItem(event.message.id);
      else replaceItem(event.message);
    },
    async reload() {
      await loadList();
      if (open) await openConversation(open);
    },
    async openMessage(conversation, messageId) {
      await openConversation(conversation, messageId);
      const item = items.get(messageId);
      if (!item) return showInfo("That message is no longer in its conversation (deleted or expired).");
      for (const other of messageList.querySelectorAll(".highlight")) other.classList.remove("highlight");
      item.classList.add("highlight");
      item.scrollIntoView({ block: "center" });
      item.focus({ preventScroll: true });
    },
  };
}
