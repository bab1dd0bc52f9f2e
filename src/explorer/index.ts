import { Elysia, t } from "elysia";
import type { Deps } from "../deps";
import { notFound } from "../errors";
import { buildExplorer, type ExplorerBundle } from "./assets";

/**
 * Only this origin, for everything: no inline script or style, no other host (the page works
 * offline), no framing, no form submitted anywhere (forms are handled by the script; without
 * it, a sign-in form must not put a password in a URL).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  // 'self' covers this origin's ws:/wss: too (CSP Level 3): no socket to any other host
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CONTENT_SECURITY_POLICY,
  // The page is small and names its assets by content hash: always ask, so a new version shows at once.
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

const ASSET_CACHE = "public, max-age=31536000, immutable";

/** One bundle per process, built on first use: every app of a process serves the same files. */
let bundle: Promise<ExplorerBundle> | undefined;
function explorerBundle(): Promise<ExplorerBundle> {
  bundle ??= buildExplorer().catch((error) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}

/**
 * The memory explorer at `/explorer`: a page (plain DOM + TypeScript, bundled with Bun's bundler when
 * the app is made) to browse tenants and conversations, watch indexing live, search and delete.
 * It calls the public API from the same origin with the credential it holds in memory; it is not
 * part of the API document.
 */
export function explorerRoutes(deps: Pick<Deps, "log">) {
  const log = deps.log.child({ module: "explorer" });
  // Started now so a broken build shows in the start-up log, not at the first visit.
  explorerBundle().catch((error) => log.error({ err: error }, "explorer page build failed"));
  const page = async (ifNoneMatch: string | undefined) => {
    const { html } = await explorerBundle();
    const etag = `"${Bun.hash(html).toString(36)}"`;
    if (ifNoneMatch === etag) return new Response(null, { status: 304, headers: { etag, "cache-control": PAGE_HEADERS["cache-control"] } });
    return new Response(html, { headers: { ...PAGE_HEADERS, etag } });
  };
  return new Elysia({ name: "explorer" })
    .get("/explorer", ({ headers }) => page(headers["if-none-match"]), { detail: { hide: true } })
    .get("/explorer/", ({ headers }) => page(headers["if-none-match"]), { detail: { hide: true } })
    .get(
      "/explorer/assets/:name",
      async ({ params }) => {
        const asset = (await explorerBundle()).assets.get(params.name);
        if (!asset) throw notFound("Asset");
        return new Response(asset.body, {
          headers: { "content-type": asset.type, "cache-control": ASSET_CACHE, "x-content-type-options": "nosniff" },
        });
      },
      { params: t.Object({ name: t.String({ maxLength: 200 }) }), detail: { hide: true } },
    );
}
