import type { Message } from "../../messages/model";
import { h, timeOf } from "./dom";

export const STATUS_TEXT: Record<Message["status"], string> = {
  pending: "pending",
  indexed: "indexed",
  failed: "failed",
};

/** The status badge; its text changes as events arrive (a live region on the list reads it out). */
export function statusBadge(status: Message["status"]): HTMLElement {
  return h("span", { class: `status ${status}`, "data-status": status }, STATUS_TEXT[status] ?? status);
}

function metadataOf(metadata: Message["metadata"]): HTMLElement | null {
  if (!metadata || Object.keys(metadata).length === 0) return null;
  return h(
    "div",
    { class: "meta-row" },
    h("span", { class: "meta-label" }, "Metadata"),
    h("code", { class: "metadata" }, JSON.stringify(metadata)),
  );
}

/**
 * One message of a history: role, time, importance, status (updated live), content, metadata, id;
 * `onDelete` adds a Delete button.
 */
export function messageItem(message: Message, onDelete?: (message: Message) => void): HTMLLIElement {
  const remove = onDelete
    ? h("button", { type: "button", class: "button quiet small danger-text", "aria-label": `Delete message ${message.id}` }, "Delete")
    : null;
  remove?.addEventListener("click", () => onDelete?.(message));
  return h(
    "li",
    { class: `message role-${message.role}`, "data-message-id": message.id, "data-status": message.status, tabindex: "-1" },
    h(
      "div",
      { class: "message-head" },
      h("span", { class: "role" }, message.role),
      timeOf(message.created_at),
      h("span", { class: "importance", title: "Importance (0-1)" }, `importance ${Math.round(message.importance * 100) / 100}`),
      statusBadge(message.status),
      remove,
    ),
    h("p", { class: "content" }, message.content),
    h(
      "div",
      { class: "message-meta" },
      message.status === "failed" && message.error ? h("div", { class: "meta-row error-text" }, h("span", { class: "meta-label" }, "Error"), message.error) : null,
      metadataOf(message.metadata),
      h(
        "div",
        { class: "meta-row" },
        h("span", { class: "meta-label" }, "Id"),
        h("code", {}, message.id),
        message.indexed_at ? [h("span", { class: "meta-label" }, "Indexed"), timeOf(message.indexed_at)] : null,
        message.expires_at ? [h("span", { class: "meta-label" }, "Expires"), timeOf(message.expires_at)] : null,
      ),
    ),
  );
}
