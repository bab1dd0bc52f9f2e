import type { TenantSummary } from "../../tenants/model";
import { download, getJson } from "./api";
import { batched, type ConversationsView, conversationsView } from "./conversations";
import { count, fill, h, plural } from "./dom";
import { type LiveState, followTenant } from "./live";
import { showError, showInfo } from "./notices";
import { type SearchView, searchView } from "./search";
import { statusCounts, type TenantsPanel, tenantsPanel } from "./tenants";

type Tab = "conversations" | "search";

const LIVE_TEXT: Record<LiveState, string> = { connecting: "Connecting…", live: "Live", offline: "Offline" };

/** Tabs as the ARIA pattern has them: arrow keys move between them, only the selected one is in the tab order. */
function tabs(onSelect: (tab: Tab) => void) {
  const make = (tab: Tab, label: string) =>
    h("button", { type: "button", role: "tab", id: `tab-${tab}`, "aria-controls": `panel-${tab}`, "data-tab": tab, on: { click: () => onSelect(tab) } }, label);
  const buttons = [make("conversations", "Conversations"), make("search", "Search")];
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": "Tenant views" }, ...buttons);
  list.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0 || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) return;
    const next = buttons[(index + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length];
    next.focus();
    onSelect(next.dataset.tab as Tab);
  });
  const mark = (tab: Tab) => {
    for (const button of buttons) {
      const selected = button.dataset.tab === tab;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
  };
  return { list, mark };
}

/** The signed-in page: tenants on the side, the chosen tenant's conversations or search, live. */
export function workspace(): { element: HTMLElement; start(): Promise<void>; stop(): void } {
  const view = h("section", { class: "tenant-view", "aria-label": "Tenant" });
  fill(view, h("div", { class: "card empty-state" }, h("h2", {}, "Choose a tenant"), h("p", { class: "muted" }, "Its conversations, their messages as they are indexed, and search.")));
  let panel: TenantsPanel;
  let live: { close(): void } | null = null;
  let current: { tenant: string; conversations: ConversationsView; search: SearchView } | null = null;

  const openTenant = (tenant: string) => {
    live?.close();
    panel.select(tenant);
    const counts = h("div", { class: "tenant-stats" });
    const liveBadge = h("span", { class: "live connecting", role: "status" }, LIVE_TEXT.connecting);
    const exportButton = h("button", { type: "button", class: "button" }, "Export NDJSON");
    const showCounts = (summary: TenantSummary) => {
      fill(counts, h("span", {}, `${plural(summary.messages, "message")} · ${plural(summary.conversations, "conversation")}`), statusCounts(summary));
      panel.update(summary);
    };
    const loadCounts = () =>
      getJson<TenantSummary>(`/v1/tenants/${encodeURIComponent(tenant)}`)
        .then(showCounts)
        .catch((error) => showError("Could not read the tenant's counts", error));
    const countsChanged = batched(loadCounts, 400);

    const conversations = conversationsView(tenant, countsChanged);
    const panels = {
      conversations: h("div", { role: "tabpanel", id: "panel-conversations", "aria-labelledby": "tab-conversations" }, conversations.element),
      search: h("div", { role: "tabpanel", id: "panel-search", "aria-labelledby": "tab-search", hidden: true }),
    };
    const select = (tab: Tab) => {
      panels.conversations.hidden = tab !== "conversations";
      panels.search.hidden = tab !== "search";
      bar.mark(tab);
    };
    const search = searchView(tenant, (conversation, id) => {
      select("conversations");
      conversations.openMessage(conversation, id).catch((error) => showError("Could not open the message", error));
    });
    panels.search.append(search.element);
    const bar = tabs(select);
    select("conversations");
    current = { tenant, conversations, search };

    exportButton.addEventListener("click", async () => {
      exportButton.disabled = true;
      try {
        const file = await download(`/v1/tenants/${encodeURIComponent(tenant)}/export`, `memory-mesh-${tenant}.ndjson`);
        showInfo(`Exported ${file.name} (${count(file.bytes)} bytes).`);
      } catch (error) {
        showError("Export failed", error);
      } finally {
        exportButton.disabled = false;
      }
    });

    fill(
      view,
      h(
        "header",
        { class: "tenant-head" },
        h("div", {}, h("h2", { id: "tenant-title" }, h("span", { class: "muted" }, "Tenant "), tenant), counts),
        h("div", { class: "tenant-actions" }, liveBadge, exportButton),
      ),
      bar.list,
      panels.conversations,
      panels.search,
    );
    void loadCounts();
    conversations.reload().catch((error) => showError("Could not list the conversations", error));
    live = followTenant(tenant, {
      event(event) {
        if (current?.tenant !== tenant) return;
        conversations.event(event);
        search.event(event);
        countsChanged();
      },
      state(state, why) {
        liveBadge.className = `live ${state}`;
        liveBadge.textContent = why && state === "offline" ? `${LIVE_TEXT[state]}: ${why}` : LIVE_TEXT[state];
      },
      resumed() {
        countsChanged();
        conversations.reload().catch((error) => showError("Could not list the conversations", error));
      },
    });
  };

  panel = tenantsPanel(openTenant);
  return {
    element: h("div", { class: "workspace" }, panel.element, view),
    async start() {
      try {
        await panel.reload();
      } catch (error) {
        showError("Could not list the tenants", error);
      }
    },
    stop() {
      live?.close();
      live = null;
      current = null;
    },
  };
}
