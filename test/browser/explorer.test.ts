import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type IndexingWorker, startIndexingWorker } from "../../src/memory/worker";
import { useHarness } from "../helpers/app";

/**
 * The memory explorer (/explorer) in Debian's chromium, driven by playwright-core, against the real
 * server on a real port: used as a person would, with every request to another host refused.
 * Without /usr/bin/chromium (apt-get install -y chromium) the file is skipped with a reason on stderr.
 */
const CHROMIUM = "/usr/bin/chromium";
const skipReason = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install -y chromium)`;
const PASSWORD = "SecurePass123";
const SESSION_KEY = "memory-mesh-explorer.session";

/** Every line the server logs, at debug level (request lines included). */
const logLines: string[] = [];
const h = useHarness({ LOG_LEVEL: "debug", EMBED_BATCH_WAIT_MS: "10" }, { realtime: true, logSink: (line) => logLines.push(line) });
let browser: Browser;
let base = "";
// Started by the first test that needs messages indexed: until then they stay pending.
let worker: IndexingWorker | undefined;
const startWorker = () => {
  worker ??= startIndexingWorker(h.deps);
};

beforeAll(async () => {
  h.app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${h.app.server?.port}`;
  h.cleanup(() => h.app.stop(true));
  h.cleanup(() => worker?.close());
  if (!skipReason) browser = await chromium.launch({ executablePath: CHROMIUM });
});

afterAll(async () => {
  await browser?.close();
});

/** What a page did: every URL it asked for (HTTP and WebSocket), what was refused for leaving this machine, errors it logged. */
interface Recorded {
  page: Page;
  context: BrowserContext;
  urls: string[];
  sockets: string[];
  blocked: string[];
  consoleErrors: string[];
  loads: number;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);

async function openExplorer(): Promise<Recorded> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const recorded: Recorded = { page, context, urls: [], sockets: [], blocked: [], consoleErrors: [], loads: 0 };
  // Offline: anything for another host is refused (and recorded, so the test can say none was tried).
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "blob:" || url.protocol === "data:" || LOCAL_HOSTS.has(url.hostname)) return route.continue();
    recorded.blocked.push(url.href);
    return route.abort("internetdisconnected");
  });
  context.on("request", (request) => recorded.urls.push(request.url()));
  page.on("websocket", (socket) => recorded.sockets.push(socket.url()));
  page.on("console", (message) => {
    if (message.type() === "error") recorded.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => recorded.consoleErrors.push(error.message));
  page.on("load", () => recorded.loads++);
  await page.goto(`${base}/explorer`);
  return recorded;
}

async function signIn(page: Page, email: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Tenants" }).waitFor();
}

async function openTenant(page: Page, tenant: string) {
  await page.locator(`[data-tenant="${tenant}"]`).click();
  await page.getByRole("heading", { name: `Tenant ${tenant}` }).waitFor();
  // The live stream is open: events from now on reach the page.
  await page.locator(".live.live").waitFor();
}

const store = async (token: string, tenant: string, conversation: string, content: string) => {
  const stored = await h.json("POST", "/v1/messages", { token, body: { tenant_id: tenant, conversation_id: conversation, role: "user", content } });
  expect(stored.status).toBe(202);
  return stored.body as { id: string };
};

const message = (page: Page, id: string, status?: string) => page.locator(`[data-message-id="${id}"]${status ? `[data-status="${status}"]` : ""}`);

describe.skipIf(Boolean(skipReason))("memory explorer in a browser", () => {
  if (skipReason) process.stderr.write(`[explorer] skipping the browser tests: ${skipReason}\n`);

  test("sign in, a message goes pending then indexed without a reload, found by a paraphrase, opened, deleted, its conversation too; sign out", async () => {
    const account = await h.account("explorer");
    const tenant = "home";
    const budget = await store(account.token, tenant, "c1", "The quarterly budget review moved to Thursday afternoon.");
    const recorded = await openExplorer();
    const { page, context } = recorded;

    await signIn(page, account.email);
    await openTenant(page, tenant);
    await page.locator('[data-conversation="c1"]').click();
    await message(page, budget.id, "pending").waitFor();

    // Stored while the page is open: it appears as pending, then turns indexed once a worker runs.
    const puppy = await store(account.token, tenant, "c1", "We adopted a golden retriever puppy last spring.");
    await message(page, puppy.id, "pending").waitFor();
    expect(await message(page, puppy.id).locator(".status").textContent()).toBe("pending");
    startWorker();
    await message(page, puppy.id, "indexed").waitFor({ timeout: 30_000 });
    await message(page, budget.id, "indexed").waitFor();
    expect(await message(page, puppy.id).locator(".content").textContent()).toBe("We adopted a golden retriever puppy last spring.");
    // The tenant's counts follow too.
    await page.locator(".tenant-stats .pill.indexed", { hasText: "2 indexed" }).waitFor();
    await page.locator(".tenant-stats .pill.pending", { hasText: "0 pending" }).waitFor();

    // Found by a paraphrase that shares no word with it, with its score breakdown.
    await page.getByRole("tab", { name: "Search" }).click();
    await page.getByLabel("Query").fill("which pet did they get?");
    await page.getByLabel("Mode").selectOption("hybrid");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const top = page.locator(".result").first();
    await top.waitFor();
    expect(await top.getAttribute("data-result-id")).toBe(puppy.id);
    const parts = await top.locator(".parts").textContent();
    expect(parts).toMatch(/Semantic\s*rank 1 · similarity -?\d\.\d{3} · \+\d\.\d{3}/);
    expect(parts).toMatch(/Keyword\s*not in the keyword list/);

    // Opened in its conversation: scrolled to, highlighted and focused.
    await top.locator(".result-open").click();
    await page.locator(`[data-message-id="${puppy.id}"].highlight`).waitFor();
    expect(await page.locator(".message:focus").getAttribute("data-message-id")).toBe(puppy.id);
    expect(await page.getByRole("tab", { name: "Conversations" }).getAttribute("aria-selected")).toBe("true");

    // Deleted after a confirmation; Cancel first changes nothing.
    const deleteButton = message(page, puppy.id).getByRole("button", { name: `Delete message ${puppy.id}` });
    await deleteButton.click();
    const dialog = page.getByRole("dialog", { name: "Delete this message?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect((await h.request("GET", `/v1/messages/${puppy.id}`, { token: account.token })).status).toBe(200);
    await deleteButton.click();
    await dialog.getByRole("button", { name: "Delete message" }).click();
    await message(page, puppy.id).waitFor({ state: "detached" });
    expect((await h.request("GET", `/v1/messages/${puppy.id}`, { token: account.token })).status).toBe(404);
    await page.locator(".tenant-stats .pill.indexed", { hasText: "1 indexed" }).waitFor();

    // The whole conversation, after a confirmation too.
    await page.getByRole("button", { name: "Delete conversation" }).click();
    await page.getByRole("dialog", { name: "Delete this conversation?" }).getByRole("button", { name: "Delete conversation" }).click();
    await page.locator('[data-conversation="c1"]').waitFor({ state: "detached" });
    await page.locator(".pager-state", { hasText: "No conversations" }).waitFor();
    expect((await h.request("GET", `/v1/conversations/c1?tenant_id=${tenant}`, { token: account.token })).status).toBe(404);
    expect((await h.request("GET", `/v1/messages/${budget.id}`, { token: account.token })).status).toBe(404);

    // Signed out: the refresh token is revoked on the server and nothing is left in the tab.
    const session = JSON.parse((await page.evaluate(`sessionStorage.getItem("${SESSION_KEY}")`)) as string);
    const logout = page.waitForRequest((request) => request.url() === `${base}/v1/auth/logout`);
    await page.getByRole("button", { name: "Sign out" }).click();
    expect(JSON.parse((await logout).postData() ?? "{}")).toEqual({ refresh_token: session.refresh });
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    const refreshed = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh } });
    expect(refreshed.status).toBe(401);

    // One page load in all: the sign-in, the live statuses, the search and the sign-out happened without a reload.
    expect({ loads: recorded.loads, blocked: recorded.blocked }).toEqual({ loads: 1, blocked: [] });
    await context.close();
  });

  test("works offline: the page and its assets come from this server only, under a strict CSP, with no error", async () => {
    const account = await h.account("offline");
    await store(account.token, "offline-tenant", "c1", "hello from an offline page");
    const { page, context, blocked, urls, sockets, consoleErrors } = await openExplorer();
    await signIn(page, account.email);
    await openTenant(page, "offline-tenant");
    await page.locator('[data-conversation="c1"]').click();
    await page.locator(".message").first().waitFor();
    await page.getByRole("tab", { name: "Search" }).click();
    await page.getByLabel("Query").fill("hello");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator(".results-summary", { hasText: /result|Nothing found/ }).waitFor();

    expect(blocked).toEqual([]);
    const hosts = new Set([...urls, ...sockets].map((url) => new URL(url).host));
    expect([...hosts]).toEqual([`127.0.0.1:${h.app.server?.port}`]);
    expect(consoleErrors).toEqual([]);
    // The style sheet applied (system fonts, the page's own colours), so it is not unstyled HTML.
    expect(await page.locator(".topbar").evaluate((element) => element.ownerDocument.defaultView?.getComputedStyle(element).display)).toBe("flex");

    const html = await fetch(`${base}/explorer`);
    const body = await html.text();
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(html.headers.get("content-security-policy")).toContain("default-src 'self'; script-src 'self'; style-src 'self'");
    expect(html.headers.get("content-security-policy")).toContain("connect-src 'self';");
    expect(html.headers.get("cache-control")).toBe("no-cache");
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(body).not.toMatch(/https?:\/\//);
    const assets = [...body.matchAll(/(?:src|href)="(\/explorer\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBe(3);
    for (const asset of assets) {
      const response = await fetch(`${base}${asset}`);
      expect({ asset, status: response.status, cache: response.headers.get("cache-control") }).toEqual({ asset, status: 200, cache: "public, max-age=31536000, immutable" });
      const type = response.headers.get("content-type") ?? "";
      expect(type).toMatch(asset.endsWith(".js") ? /^text\/javascript/ : asset.endsWith(".css") ? /^text\/css/ : /^image\/svg\+xml/);
      expect(await response.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    expect((await fetch(`${base}/explorer/assets/nope.js`)).status).toBe(404);
    const etag = html.headers.get("etag") ?? "";
    expect((await fetch(`${base}/explorer`, { headers: { "if-none-match": etag } })).status).toBe(304);
    // Not in the API's document.
    const document = await h.json("GET", "/docs/json");
    expect(Object.keys(document.body.paths).filter((path) => path.startsWith("/explorer"))).toEqual([]);
    await context.close();
  });

  test("no credential ever appears in a URL, the page's HTML or the server log; a refused token is refreshed; export; API key sign-in", async () => {
    const account = await h.account("secrets");
    const key = (await h.json("POST", "/v1/auth/api-keys", { token: account.token, body: { name: "explorer" } })).body.key as string;
    const tenant = "private";
    const first = await store(account.token, tenant, "c1", "My locker code is in the blue notebook.");
    startWorker();
    const { page, context, urls, sockets, blocked } = await openExplorer();
    const secrets = new Set<string>([PASSWORD, account.token, account.refresh, key]);
    const pending: Promise<unknown>[] = [];
    page.on("response", (response) => {
      if (/\/v1\/auth\/(login|refresh)$/.test(response.url()) && response.ok()) {
        pending.push(
          response.json().then((pair: { access_token: string; refresh_token: string }) => {
            secrets.add(pair.access_token);
            secrets.add(pair.refresh_token);
          }),
        );
      }
    });
    const htmls: string[] = [];

    await signIn(page, account.email);
    await openTenant(page, tenant);
    await page.locator('[data-conversation="c1"]').click();
    await message(page, first.id, "indexed").waitFor({ timeout: 30_000 });
    htmls.push(await page.content());

    // A token the server refuses: the page trades its refresh token for a new pair and carries on.
    await page.evaluate(`(() => { const s = JSON.parse(sessionStorage.getItem("${SESSION_KEY}")); s.access = "not-a-valid-token"; sessionStorage.setItem("${SESSION_KEY}", JSON.stringify(s)); })()`);
    const refreshed = page.waitForResponse((response) => response.url() === `${base}/v1/auth/refresh` && response.status() === 200);
    await page.reload();
    await refreshed;
    await openTenant(page, tenant);
    await page.locator('[data-conversation="c1"]').click();
    const live = await store(account.token, tenant, "c1", "The spare key hangs behind the kitchen door.");
    await message(page, live.id, "indexed").waitFor({ timeout: 30_000 });

    // Export: fetched with the header, saved from a Blob.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export NDJSON" }).click()]);
    expect(download.suggestedFilename()).toBe(`memory-mesh-${tenant}.ndjson`);
    expect(download.url()).toStartWith("blob:");
    const lines = readFileSync(await download.path(), "utf8").trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.type === "message").map((line) => line.id)).toEqual([first.id, live.id]);
    await page.locator(".notice", { hasText: `Exported memory-mesh-${tenant}.ndjson` }).waitFor();

    await page.getByRole("tab", { name: "Search" }).click();
    await page.getByLabel("Query").fill("where is the key?");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator(".result").first().waitFor();
    htmls.push(await page.content());
    await page.getByRole("button", { name: "Sign out" }).click();

    // The same with an API key: its subprotocol opens the live stream too.
    await page.getByLabel("API key", { exact: true }).fill(key);
    await page.getByRole("button", { name: "Use this key" }).click();
    await openTenant(page, tenant);
    await page.locator('[data-conversation="c1"]').click();
    const third = await store(account.token, tenant, "c1", "Water the plants on Sunday.");
    await message(page, third.id, "indexed").waitFor({ timeout: 30_000 });
    htmls.push(await page.content());
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    htmls.push(await page.content());
    await Promise.all(pending);

    // The browser's query-parameter form still works, and its token is not logged either (paths only).
    const legacy = new WebSocket(`ws://127.0.0.1:${h.app.server?.port}/ws/messages/${tenant}?token=${account.token}`);
    await new Promise((resolve, reject) => {
      legacy.onopen = resolve;
      legacy.onerror = reject;
    });
    legacy.close();

    expect(secrets.size).toBeGreaterThanOrEqual(7);
    expect(sockets.length).toBeGreaterThanOrEqual(3);
    const encoded = [...secrets].flatMap((secret) => [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64url")]);
    const leaks = (where: string, texts: string[]) => texts.flatMap((text) => encoded.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret.slice(0, 12)}… in ${text.slice(0, 120)}`));
    expect([...leaks("url", [...urls, ...sockets]), ...leaks("html", htmls), ...leaks("log", logLines)]).toEqual([]);
    // The log did record these requests (at debug level), by path.
    const paths = logLines.map((line) => JSON.parse(line)).filter((line) => line.msg === "request").map((line) => line.path);
    expect(paths).toContain(`/ws/messages/${tenant}`);
    expect(paths).toContain("/v1/memory/search");
    expect(paths).toContain(`/v1/tenants/${tenant}/export`);
    expect(blocked).toEqual([]);
    await context.close();
  });

  test("an API error is shown in words with its request id (a read-only key deleting a message)", async () => {
    const account = await h.account("readonly");
    const key = (await h.json("POST", "/v1/auth/api-keys", { token: account.token, body: { name: "read-only", scopes: ["read"] } })).body.key as string;
    const kept = await store(account.token, "ro", "c1", "You may read this but not delete it.");
    const { page, context } = await openExplorer();
    await page.getByLabel("API key", { exact: true }).fill(key);
    await page.getByRole("button", { name: "Use this key" }).click();
    await openTenant(page, "ro");
    await page.locator('[data-conversation="c1"]').click();
    await message(page, kept.id).getByRole("button", { name: `Delete message ${kept.id}` }).click();
    const refused = page.waitForResponse((response) => response.url() === `${base}/v1/messages/${kept.id}` && response.request().method() === "DELETE");
    await page.getByRole("dialog").getByRole("button", { name: "Delete message" }).click();
    const requestId = (await refused).headers()["x-request-id"];
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toBe(`Could not delete the message: This API key does not have the "write" scope (403 forbidden)Request id: ${requestId}`);
    expect(await message(page, kept.id).count()).toBe(1);
    await context.close();
  });

  test("a narrow window: one column, nothing wider than the screen, keyboard reaches the controls", async () => {
    const account = await h.account("narrow");
    await store(account.token, "phone", "c1", "A message read on a phone.");
    const { page, context } = await openExplorer();
    await page.setViewportSize({ width: 390, height: 844 });
    // Keyboard only: the first field has the focus, Tab moves on, Enter submits.
    await page.keyboard.type(account.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    await page.locator('[data-tenant="phone"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('[data-conversation="c1"]').focus();
    await page.keyboard.press("Enter");
    await page.locator(".message").first().waitFor();
    // Tabs follow the arrow keys.
    await page.getByRole("tab", { name: "Conversations" }).focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("tab", { name: "Search" }).getAttribute("aria-selected")).toBe("true");
    await page.getByLabel("Query").waitFor();
    const width = await page.locator("html").evaluate((element) => element.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await context.close();
  });
});
