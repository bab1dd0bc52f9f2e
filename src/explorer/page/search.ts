import type { MessageEvent } from "../../events/model";
import type { SearchExplain, SearchResponse, SearchResult } from "../../memory/model";
import { postJson } from "./api";
import { announce, count, decimal, fill, h, timeOf, uid } from "./dom";
import { clearNotices, showError } from "./notices";

type Response = typeof SearchResponse.static;

export interface SearchView {
  element: HTMLElement;
  event(event: MessageEvent): void;
}

function labelled(label: string, control: HTMLInputElement | HTMLSelectElement, extra = ""): HTMLElement {
  control.id ||= uid("search");
  return h("div", { class: `field ${extra}` }, h("label", { for: control.id }, label), control);
}

const option = (value: string, text: string) => h("option", { value }, text);

/** The score's parts as a stacked bar (each part's share of the 0-1 scale) and in words. */
function breakdown(explain: SearchExplain): HTMLElement {
  const parts = [
    { name: "semantic", label: "Semantic", contribution: explain.semantic?.contribution ?? 0 },
    { name: "keyword", label: "Keyword", contribution: explain.keyword?.contribution ?? 0 },
    { name: "recency", label: "Recency", contribution: explain.recency.contribution },
    { name: "importance", label: "Importance", contribution: explain.importance.contribution },
  ];
  const bar = h("div", { class: "bar", "aria-hidden": "true" });
  for (const part of parts) {
    if (part.contribution <= 0) continue;
    const segment = h("span", { class: `segment ${part.name}`, title: `${part.label} ${decimal(part.contribution, true)}` });
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    segment.style.width = `${Math.min(100, part.contribution * 100)}%`;
    bar.append(segment);
  }
  const row = (name: string, label: string, ...text: (Node | string)[]) =>
    h("div", { class: `part ${name}` }, h("dt", {}, h("span", { class: `swatch ${name}`, "aria-hidden": "true" }), label), h("dd", {}, ...text));
  const { semantic, keyword, recency, importance } = explain;
  const signals = recency.contribution !== 0 || importance.contribution !== 0;
  return h(
    "div",
    { class: "breakdown" },
    bar,
    h(
      "dl",
      { class: "parts", "aria-label": "Score breakdown" },
      row(
        "semantic",
        "Semantic",
        ...(semantic
          ? [`rank ${semantic.rank} · similarity ${decimal(semantic.similarity)} · `, h("strong", {}, decimal(semantic.contribution, true))]
          : ["not in the semantic list"]),
      ),
      row(
        "keyword",
        "Keyword",
        ...(keyword
          ? [`rank ${keyword.rank} · BM25 ${decimal(keyword.bm25)} · coverage ${decimal(keyword.coverage)} · `, h("strong", {}, decimal(keyword.contribution, true))]
          : ["not in the keyword list"]),
      ),
      signals ? row("recency", "Recency", `value ${decimal(recency.value)} · `, h("strong", {}, decimal(recency.contribution, true))) : null,
      signals ? row("importance", "Importance", `value ${decimal(importance.value)} · `, h("strong", {}, decimal(importance.contribution, true))) : null,
    ),
  );
}

/**
 * Search of one tenant (POST /v1/memory/search with explain=true): query, mode, filters and top_k;
 * results best first with their score breakdown. Opening a result shows it in its conversation.
 */
export function searchView(tenant: string, openMessage: (conversation: string, id: string) => void): SearchView {
  const queryInput = h("input", { type: "search", name: "query", required: true, maxlength: "8000", autocomplete: "off", placeholder: "What would you like to recall?" });
  const mode = h("select", { name: "mode", value: "hybrid" }, option("hybrid", "Hybrid"), option("semantic", "Semantic"), option("keyword", "Keyword"));
  const topK = h("input", { type: "number", name: "top_k", min: "1", max: "100", step: "1", value: "10", required: true });
  const conversation = h("input", { type: "text", name: "conversation_id", maxlength: "256", autocomplete: "off", spellcheck: "false" });
  const role = h("select", { name: "role", value: "" }, option("", "Any role"), option("user", "user"), option("assistant", "assistant"), option("system", "system"), option("tool", "tool"));
  const after = h("input", { type: "datetime-local", name: "created_after", step: "1" });
  const before = h("input", { type: "datetime-local", name: "created_before", step: "1" });
  const submit = h("button", { type: "submit", class: "button primary" }, "Search");
  const results = h("ol", { class: "results", "aria-label": "Results, best first" });
  const summary = h("p", { class: "muted results-summary", role: "status" });
  const shown = new Map<string, HTMLElement>();

  const form = h(
    "form",
    { class: "search-form card", role: "search", method: "post", "aria-label": `Search ${tenant}` },
    h("div", { class: "search-main" }, labelled("Query", queryInput, "grow"), submit),
    h(
      "fieldset",
      { class: "filters" },
      h("legend", {}, "Mode and filters"),
      labelled("Mode", mode),
      labelled("Results (top_k)", topK, "narrow"),
      labelled("Role", role),
      labelled("Conversation", conversation),
      labelled("Created after (local time)", after),
      labelled("Created before (local time)", before),
    ),
  );

  const isoOf = (input: HTMLInputElement) => (input.value ? new Date(input.value).toISOString() : undefined);

  const render = (found: SearchResult[], took: number) => {
    shown.clear();
    fill(
      results,
      found.map((result, index) => {
        const open = h(
          "button",
          { type: "button", class: "result-open", "aria-label": `Result ${index + 1}, score ${decimal(result.score)}: open in conversation ${result.conversation_id}` },
          h(
            "span",
            { class: "result-head" },
            h("span", { class: "score", title: "Score" }, decimal(result.score)),
            h("span", { class: "role" }, result.role),
            h("span", { class: "result-conversation" }, result.conversation_id),
            timeOf(result.created_at),
          ),
          h("span", { class: "result-content" }, result.content),
        );
        open.addEventListener("click", () => openMessage(result.conversation_id, result.id));
        const item = h("li", { class: "result", "data-result-id": result.id }, open, result.explain ? breakdown(result.explain) : null);
        shown.set(result.id, item);
        return item;
      }),
    );
    summary.textContent = found.length ? `${count(found.length)} result${found.length === 1 ? "" : "s"} in ${took} ms` : "Nothing found. Only indexed messages are searched.";
    announce(summary.textContent);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearNotices();
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      const body = {
        tenant_id: tenant,
        query: queryInput.value,
        mode: mode.value,
        top_k: Number(topK.value),
        conversation_id: conversation.value.trim() || undefined,
        role: role.value || undefined,
        created_after: isoOf(after),
        created_before: isoOf(before),
        explain: true,
      };
      const answer = await postJson<Response>("/v1/memory/search", body);
      render(answer.results, Math.round(performance.now() - started));
    } catch (error) {
      showError("Search failed", error);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  return {
    element: h("div", { class: "search" }, form, summary, results),
    event(event) {
      // A result deleted since the search stays in the list, marked.
      if (event.type !== "message.deleted") return;
      const item = shown.get(event.message.id);
      if (!item || item.classList.contains("deleted")) return;
      item.classList.add("deleted");
      item.querySelector(".result-head")?.append(h("span", { class: "pill failed" }, "deleted"));
    },
  };
}
