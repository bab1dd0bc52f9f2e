import type { History } from "../../conversations/model";
import type { MessageEvent } from "../../events/model";
import type { Message } from "../../messages/model";
import { getJson, query, request } from "./api";
import { confirmAction } from "./dialog";
import { announce, count, fill, h, plural, snippet } from "./dom";
import { messageItem } from "./messages";
import { showError, showInfo } from "./notices";

type Page = typeof History.static;

const HISTORY_PAGE = 200;
/** Pages read while looking for one message (a search result) in a long conversation. */
const SEEK_PAGE = 1000;

export interface HistoryView {
  element: HTMLElement;
  /** The conversation shown, if any. */
  current(): string | null;
  /** Shows a conversation from its first message; with `seek`, reads on until that message is in. */
  open(conversation: string, title: string | null, seek?: string): Promise<void>;
  /** An event of the conversation shown. */
  event(event: MessageEvent): void;
  /** Highlights, scrolls to and focuses one message; false if it is not there. */
  reveal(id: string): boolean;
}

/** What the history tells the rest of the page: counts and the conversation list have changed. */
export interface HistoryChanges {
  messagesChanged(): void;
  conversationDeleted(conversation: string): void;
}

/**
 * One conversation's messages in order (paginated, oldest first), which change status, appear and
 * disappear as events arrive; a message or the whole conversation can be deleted after a confirmation.
 */
export function historyView(tenant: string, changes: HistoryChanges): HistoryView {
  let shown: string | null = null;
  let loaded = 0;
  let total = 0;
  let generation = 0;
  const items = new Map<string, HTMLLIElement>();
  const element = h("section", { class: "history", "aria-label": "Conversation history" });
  const messageList = h("ol", { class: "messages", "aria-label": "Messages, oldest first" });
  const moreMessages = h("button", { type: "button", class: "button quiet" }, "Show later messages");
  const totalText = h("span", {});
  fill(element, h("p", { class: "muted empty" }, "Choose a conversation to see its messages."));

  const renderTotal = () => {
    totalText.textContent = plural(total, "message");
    moreMessages.hidden = loaded >= total;
  };

  const addItems = (messages: Message[]) => {
    for (const message of messages) {
      if (items.has(message.id)) continue;
      const item = messageItem(message, deleteMessage);
      items.set(message.id, item);
      messageList.append(item);
      loaded++;
    }
  };

  const loadMore = async (limit: number) => {
    const conversation = shown;
    const mine = generation;
    if (!conversation) return;
    const path = `/v1/conversations/${encodeURIComponent(conversation)}/messages?${query({ tenant_id: tenant, limit, offset: loaded })}`;
    const page = await getJson<Page>(path);
    if (mine !== generation) return;
    total = page.total;
    addItems(page.messages);
    renderTotal();
  };
  moreMessages.addEventListener("click", () => loadMore(HISTORY_PAGE).catch((error) => showError("Could not read more messages", error)));

  const removeItem = (id: string) => {
    const item = items.get(id);
    if (!item) return;
    const next = (item.nextElementSibling ?? item.previousElementSibling) as HTMLElement | null;
    const hadFocus = item.contains(document.activeElement);
    item.remove();
    items.delete(id);
    loaded--;
    total = Math.max(0, total - 1);
    renderTotal();
    if (hadFocus) (next ?? (element.querySelector("h3") as HTMLElement | null))?.focus();
  };

  const replaceItem = (message: Message) => {
    const item = items.get(message.id);
    if (!item) return;
    const fresh = messageItem(message, deleteMessage);
    if (item.classList.contains("highlight")) fresh.classList.add("highlight");
    const hadFocus = item === document.activeElement;
    item.replaceWith(fresh);
    items.set(message.id, fresh);
    if (hadFocus) fresh.focus();
  };

  async function deleteMessage(message: Message): Promise<void> {
    const sure = await confirmAction("Delete this message?", `“${snippet(message.content)}” is removed with its vector: search stops finding it at once. This cannot be undone.`, "Delete message");
    if (!sure) return;
    try {
      await request("DELETE", `/v1/messages/${encodeURIComponent(message.id)}`);
      removeItem(message.id);
      showInfo("Message deleted.");
      changes.messagesChanged();
    } catch (error) {
      showError("Could not delete the message", error);
    }
  }

  async function deleteConversation(conversation: string): Promise<void> {
    const sure = await confirmAction("Delete this conversation?", `“${conversation}” and all ${count(total)} of its messages are deleted, with their vectors. This cannot be undone.`, "Delete conversation");
    if (!sure) return;
    try {
      await request("DELETE", `/v1/conversations/${encodeURIComponent(conversation)}?${query({ tenant_id: tenant })}`);
      if (shown === conversation) {
        shown = null;
        generation++;
        fill(element, h("p", { class: "muted empty" }, `Conversation “${conversation}” deleted.`));
      }
      showInfo(`Conversation “${conversation}” deleted.`);
      changes.conversationDeleted(conversation);
    } catch (error) {
      showError("Could not delete the conversation", error);
    }
  }

  return {
    element,
    current: () => shown,
    async open(conversation, title, seek) {
      const mine = ++generation;
      shown = conversation;
      loaded = 0;
      total = 0;
      items.clear();
      fill(messageList);
      const remove = h("button", { type: "button", class: "button danger-outline small" }, "Delete conversation");
      remove.addEventListener("click", () => void deleteConversation(conversation));
      fill(
        element,
        h(
          "div",
          { class: "history-head" },
          h("div", {}, h("h3", { id: "history-title", tabindex: "-1" }, title ?? conversation), h("div", { class: "history-sub" }, title ? `${conversation} · ` : "", totalText)),
          remove,
        ),
        messageList,
        moreMessages,
      );
      renderTotal();
      try {
        await loadMore(seek ? SEEK_PAGE : HISTORY_PAGE);
        while (seek && mine === generation && !items.has(seek) && loaded < total) await loadMore(SEEK_PAGE);
      } catch (error) {
        showError("Could not read the conversation", error);
      }
    },
    event(event) {
      if (event.conversation_id !== shown) return;
      if (event.type === "message.created" && !items.has(event.message.id)) {
        // Appended only when the history is read to its end; otherwise "Show later messages" gets it.
        total++;
        if (loaded === total - 1) {
          addItems([event.message]);
          announce(`New ${event.message.role} message, ${event.message.status}`);
        }
        renderTotal();
      } else if (event.type === "message.deleted") removeItem(event.message.id);
      else replaceItem(event.message);
    },
    reveal(id) {
      const item = items.get(id);
      if (!item) return false;
      for (const other of messageList.querySelectorAll(".highlight")) other.classList.remove("highlight");
      item.classList.add("highlight");
      item.scrollIntoView({ block: "center" });
      item.focus({ preventScroll: true });
      return true;
    },
  };
}
