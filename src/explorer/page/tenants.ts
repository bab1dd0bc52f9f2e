import type { TenantList, TenantSummary } from "../../tenants/model";
import { getJson, query } from "./api";
import { count, fill, h, plural, uid } from "./dom";
import { showError } from "./notices";

type Tenants = typeof TenantList.static;

/** Messages by status, as small labelled pills. */
export function statusCounts(summary: TenantSummary): HTMLElement {
  return h(
    "span",
    { class: "status-counts" },
    h("span", { class: "pill pending", title: "Accepted, not yet searchable" }, `${count(summary.pending)} pending`),
    h("span", { class: "pill indexed", title: "Searchable" }, `${count(summary.indexed)} indexed`),
    h("span", { class: `pill failed${summary.failed ? "" : " zero"}`, title: "Indexing failed" }, `${count(summary.failed)} failed`),
  );
}

export interface TenantsPanel {
  element: HTMLElement;
  reload(): Promise<void>;
  /** New counts for one tenant (after events); adds it to the list if it is new. */
  update(summary: TenantSummary): void;
  /** Marks the tenant being shown. */
  select(tenant: string | null): void;
}

/** The account's tenants (GET /v1/tenants, by id, with counts), and a box to open any tenant by id. */
export function tenantsPanel(onOpen: (tenant: string) => void): TenantsPanel {
  const summaries = new Map<string, TenantSummary>();
  let selected: string | null = null;
  let nextCursor: string | null = null;
  const list = h("ul", { class: "tenant-list", "aria-labelledby": "tenants-title" });
  const more = h("button", { type: "button", class: "button quiet", hidden: true }, "More tenants");
  const empty = h("p", { class: "muted empty", hidden: true }, "No tenants yet. Store a message (POST /v1/messages) or open a tenant by its id below.");
  const openInput = h("input", { type: "text", id: uid("open-tenant"), name: "tenant", required: true, maxlength: "128", autocomplete: "off", spellcheck: "false" });
  const openForm = h(
    "form",
    { class: "open-tenant", method: "post" },
    h("label", { for: openInput.id }, "Open a tenant by id"),
    h("div", { class: "inline" }, openInput, h("button", { type: "submit", class: "button" }, "Open")),
  );
  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const tenant = openInput.value.trim();
    if (tenant) onOpen(tenant);
  });

  const render = () => {
    const items = [...summaries.values()].sort((a, b) => (a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : 0));
    fill(
      list,
      items.map((summary) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "tenant",
              "data-tenant": summary.tenant_id,
              "aria-current": summary.tenant_id === selected ? "true" : undefined,
              on: { click: () => onOpen(summary.tenant_id) },
            },
            h("span", { class: "tenant-name" }, summary.tenant_id),
            h("span", { class: "tenant-counts" }, `${plural(summary.messages, "message")} · ${plural(summary.conversations, "conversation")}`),
            statusCounts(summary),
          ),
        ),
      ),
    );
    empty.hidden = items.length > 0;
    more.hidden = nextCursor === null;
  };

  const loadPage = async (cursor: string | null) => {
    const page = await getJson<Tenants>(`/v1/tenants?${query({ limit: 100, cursor: cursor ?? undefined })}`);
    if (!cursor) summaries.clear();
    for (const summary of page.tenants) summaries.set(summary.tenant_id, summary);
    nextCursor = page.next_cursor;
    render();
  };
  more.addEventListener("click", () => loadPage(nextCursor).catch((error) => showError("Could not list more tenants", error)));
  const refresh = h("button", { type: "button", class: "button quiet small", "aria-label": "Reload the tenants" }, "Reload");
  refresh.addEventListener("click", () => loadPage(null).catch((error) => showError("Could not list the tenants", error)));

  const element = h(
    "nav",
    { class: "tenants panel", "aria-labelledby": "tenants-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "tenants-title" }, "Tenants"), refresh),
    list,
    empty,
    more,
    openForm,
  );
  return {
    element,
    reload: () => loadPage(null),
    update(summary) {
      summaries.set(summary.tenant_id, summary);
      render();
    },
    select(tenant) {
      selected = tenant;
      render();
    },
  };
}
