import { ApiError } from "./api";
import { fill, h } from "./dom";

/** The one place errors and confirmations are shown: a banner under the header, read out when it changes. */
export const noticeArea = h("div", { class: "notices", id: "notices" });

function show(kind: "error" | "info", ...content: (Node | string)[]): void {
  const dismiss = h("button", { type: "button", class: "button quiet", "aria-label": "Dismiss this message" }, "×");
  const notice = h("div", { class: `notice ${kind}` }, h("div", { class: "notice-text", role: kind === "error" ? "alert" : "status" }, ...content), dismiss);
  dismiss.addEventListener("click", () => notice.remove());
  fill(noticeArea, notice);
}

export function clearNotices(): void {
  fill(noticeArea);
}

export function showInfo(text: string): void {
  show("info", text);
}

/** An API error in words: what failed, the API's message and code, each invalid field, and the request id to quote. */
export function showError(what: string, error: unknown): void {
  if (!(error instanceof ApiError)) {
    show("error", h("strong", {}, `${what}: `), error instanceof Error ? error.message : String(error));
    return;
  }
  const fields = Array.isArray(error.details)
    ? (error.details as { field?: string; message?: string }[]).filter((d) => d && typeof d === "object" && d.message)
    : [];
  show(
    "error",
    h("strong", {}, `${what}: `),
    error.message,
    error.status ? h("span", { class: "muted" }, ` (${error.status} ${error.code})`) : "",
    fields.length ? h("ul", { class: "error-fields" }, ...fields.map((d) => h("li", {}, d.field ? `${d.field}: ${d.message}` : String(d.message)))) : "",
    error.requestId ? h("div", { class: "request-id" }, "Request id: ", h("code", {}, error.requestId)) : "",
  );
}
