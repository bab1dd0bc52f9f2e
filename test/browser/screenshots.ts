/**
 * Screenshots of the memory explorer for the README (docs/explorer/*.png), taken from a real server
 * on a private redis-server with Debian's chromium: `bun test/browser/screenshots.ts`. Not run by CI
 * (not a test file); it asserts nothing beyond what it waits for.
 */
import { mkdirSync } from "node:fs";
import { chromium, type Page } from "playwright-core";
import { createApp } from "../../src/app";
import { createDeps, closeDeps } from "../../src/deps";
import { createLogger } from "../../src/log";
import { startIndexingWorker } from "../../src/memory/worker";
import { createRealtime } from "../../src/realtime/hub";
import { createLocalEmbedder, type Embedder, EmbedderError } from "../../src/store/embeddings";
import { eventually, testConfig } from "../helpers/app";
import { startTestRedis } from "../helpers/redis";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** `COLOR_SCHEME=dark` to look at the dark theme (the committed pictures are light). */
const COLOR_SCHEME = process.env.COLOR_SCHEME === "dark" ? "dark" : "light";
const OUT = process.env.SCREENSHOTS_DIR ?? new URL("../../docs/explorer/", import.meta.url).pathname;
const PASSWORD = "SecurePass123";

/** The local model, except that text starting with "%PDF" can never be embedded (a failed message to show). */
function embedderWithFailures(): Embedder {
  const local = createLocalEmbedder();
  return {
    modelKey: local.modelKey,
    dimensions: local.dimensions,
    embed: async (texts) => {
      if (texts.some((text) => text.startsWith("%PDF"))) throw new EmbedderError("the content is a binary file (PDF), not text", false);
      return local.embed(texts);
    },
    close: () => local.close?.() ?? Promise.resolve(),
  };
}

type Seed = { tenant: string; conversation: string; title?: string; messages: [role: string, content: string, extra?: Record<string, unknown>][] };

const SEED: Seed[] = [
  {
    tenant: "support-bot",
    conversation: "order-1042",
    title: "Late delivery",
    messages: [
      ["user", "My order #1042 still hasn't arrived, it was due on Monday.", { metadata: { channel: "chat" } }],
      ["assistant", "Sorry about that! Order #1042 left our warehouse on Saturday; the carrier reports a delay at its Leeds depot."],
      ["user", "Can you send it to my office instead? 14 Canal Street, Manchester.", { importance: 0.8 }],
      ["assistant", "Done: the delivery address of #1042 is now 14 Canal Street, Manchester. A new tracking link is on its way by email."],
    ],
  },
  {
    tenant: "support-bot",
    conversation: "user-ana",
    title: "Meal plans",
    messages: [
      ["user", "I'm vegetarian and allergic to peanuts, please remember that for the meal plans.", { importance: 0.9, metadata: { topic: "diet" } }],
      ["assistant", "Noted: vegetarian, no peanuts. Every recipe I suggest will respect both."],
      ["user", "We adopted a golden retriever puppy last spring, so I walk a lot more and need bigger lunches.", { metadata: { topic: "life" } }],
      ["assistant", "Lovely! I'll add more filling lunches: lentil bowls, chickpea wraps and oat bars."],
    ],
  },
  {
    tenant: "support-bot",
    conversation: "user-ben",
    title: "API keys",
    messages: [
      ["user", "How do I rotate my API key without downtime?"],
      ["assistant", "Create a second key, deploy it everywhere, then revoke the old one: both work until you revoke."],
    ],
  },
  {
    tenant: "support-bot",
    conversation: "user-chen",
    messages: [
      ["user", "Is there a student discount on the yearly plan?"],
      ["assistant", "Yes: 40% off the yearly plan with a university email address."],
    ],
  },
  {
    tenant: "travel-assistant",
    conversation: "trip-lisbon",
    title: "Lisbon in May",
    messages: [
      ["user", "Plan three days in Lisbon for two, we love seafood and old trams."],
      ["assistant", "Day 1: Alfama and tram 28; day 2: Belém and pastéis; day 3: Cascais by train, grilled sardines by the sea."],
    ],
  },
  {
    tenant: "acme-internal",
    conversation: "standup-2026-11-30",
    messages: [["user", "Release 4.2 moves to Thursday; QA found a regression in the export screen."]],
  },
];

async function main() {
  mkdirSync(OUT, { recursive: true });
  const redis = await startTestRedis();
  const config = testConfig(redis.url, { EMBED_BATCH_WAIT_MS: "20" });
  const deps = await createDeps(config, { log: createLogger("silent"), embedder: embedderWithFailures() });
  const realtime = await createRealtime(deps);
  const app = createApp(deps, realtime).listen({ port: 0, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${app.server?.port}`;
  let worker = startIndexingWorker(deps);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const api = async (method: string, path: string, body?: unknown, token?: string) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.status === 204 ? undefined : response.json();
    };
    const email = "ana@example.com";
    await api("POST", "/v1/auth/register", { email, username: "ana", password: PASSWORD });
    const { access_token: token } = await api("POST", "/v1/auth/login", { email, password: PASSWORD });
    const store = (tenant: string, conversation: string, role: string, content: string, extra: Record<string, unknown> = {}) =>
      api("POST", "/v1/messages", { tenant_id: tenant, conversation_id: conversation, role, content, ...extra }, token);
    for (const seed of SEED) {
      if (seed.title) await api("POST", "/v1/conversations", { tenant_id: seed.tenant, conversation_id: seed.conversation, title: seed.title }, token);
      for (const [role, content, extra] of seed.messages) await store(seed.tenant, seed.conversation, role, content, extra);
    }
    // A message that can never be embedded, alone in its batch once the rest is indexed.
    const settled = (failed: number) =>
      eventually("every message indexed or failed", async () => {
        const { tenants } = await api("GET", "/v1/tenants", undefined, token);
        return tenants.every((t: { pending: number }) => t.pending === 0) && tenants.reduce((n: number, t: { failed: number }) => n + t.failed, 0) === failed;
      }, 60_000);
    await settled(0);
    await store("support-bot", "order-1042", "user", "%PDF-1.7 (invoice-1042.pdf, attached by the chat widget)", { metadata: { channel: "chat", attachment: true } });
    await settled(1);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: COLOR_SCHEME });
    await page.goto(`${base}/explorer`);
    await page.getByLabel("Email").fill(email);
    await page.screenshot({ path: `${OUT}sign-in.png` });

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.locator('[data-tenant="support-bot"]').click();
    await page.locator('[data-conversation="user-ana"]').click();
    await page.locator(".message").first().waitFor();
    await shot(page, "tenants-conversations.png");

    // Live statuses: with the worker stopped, new messages stay pending until it is back.
    await page.locator('[data-conversation="order-1042"]').click();
    await page.locator(".message").nth(4).waitFor();
    await worker.close();
    await store("support-bot", "order-1042", "user", "Thanks! Could you also refund the express shipping fee?");
    await store("support-bot", "order-1042", "assistant", "Of course: the €6.90 express fee is refunded to your card within 3 working days.");
    await page.locator('.message[data-status="pending"]').nth(1).waitFor();
    await page.locator(".live.live").waitFor();
    await page.locator(".tenant-stats .pill.pending", { hasText: "2 pending" }).waitFor();
    await page.locator('[data-conversation="order-1042"]', { hasText: "7 messages" }).waitFor();
    await page.locator(".message").last().scrollIntoViewIfNeeded();
    await shot(page, "conversation-live.png");
    worker = startIndexingWorker(deps);
    await page.locator('.message[data-status="pending"]').first().waitFor({ state: "detached" });
    await page.locator(".tenant-stats .pill.pending", { hasText: "0 pending" }).waitFor();

    await page.getByRole("tab", { name: "Search" }).click();
    await page.getByLabel("Query").fill("walking the new puppy");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator(".result").first().waitFor();
    await shot(page, "search.png");

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("tab", { name: "Conversations" }).click();
    await page.locator('[data-conversation="order-1042"]').click();
    await page.locator(".message").first().waitFor();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${OUT}narrow.png`, fullPage: true, clip: { x: 0, y: 0, width: 390, height: 1200 } });
    process.stdout.write(`screenshots written to ${OUT}\n`);
  } finally {
    await browser.close();
    await worker.close();
    await realtime.close();
    await app.stop(true);
    await closeDeps(deps);
    await redis.stop();
  }
}

async function shot(page: Page, name: string) {
  // Focus rings and the pointer's hover say nothing in a still picture.
  await page.mouse.move(0, 0);
  await page.locator("body").focus();
  await page.screenshot({ path: `${OUT}${name}` });
}

await main();
