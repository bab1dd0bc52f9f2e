import { timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { authRoutes } from "./auth";
import { chargeRefused } from "./auth/credentials";
import type { Principal } from "./auth/model";
import { conversationRoutes } from "./conversations";
import type { Deps } from "./deps";
import { AppError, headersTooLarge, unauthorized } from "./errors";
import { parseJsonBody } from "./http/body";
import { createCors } from "./http/cors";
import { docs } from "./http/docs";
import { type ApiMetrics, createApiMetrics, metricsResponse } from "./metrics";
import { errorToResponse } from "./http/error-response";
import { explorerRoutes } from "./explorer";
import { jobRoutes } from "./jobs";
import { mcpRoutes } from "./mcp";
import { memoryRoutes } from "./memory";
import { tenantRoutes } from "./tenants";
import { messageRoutes } from "./messages";
import type { Realtime } from "./realtime/hub";
import { realtimeRoutes } from "./realtime";
import { systemRoutes } from "./system";
import { webhookRoutes } from "./webhooks";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;
const STREAMED_BODY = /^\/v1\/tenants\/[^/]+\/import\/?$/;

/** What the hooks keep about a request: its id, when it started, whether it was counted in the metrics. */
interface RequestMeta {
  id: string;
  started: number;
  observed: boolean;
}
const metas = new WeakMap<Request, RequestMeta>();

function metaOf(request: Request): RequestMeta {
  let meta = metas.get(request);
  if (!meta) {
    const given = request.headers.get("x-request-id");
    meta = { id: given && REQUEST_ID.test(given) ? given : crypto.randomUUID(), started: performance.now(), observed: false };
    metas.set(request, meta);
  }
  return meta;
}

/** Bytes of the header section as sent (names, values, ": " and CRLF each), for MAX_HEADER_BYTES. */
function headerBytes(headers: Headers): number {
  let size = 0;
  for (const [name, value] of headers) size += name.length + value.length + 4;
  return size;
}

/** What the error hook reads; `principal` and `chargePending` come from requireAuth when it ran. */
interface ErrorHookContext {
  code: string | number;
  error: unknown;
  request: Request;
  path: string;
  route: string;
  principal?: Principal;
  chargePending?: boolean;
}

/**
 * The whole HTTP API over the given dependencies; `realtime` adds the WebSocket routes; `metrics`
 * (made here when not given) is what main.ts also serves on API_METRICS_PORT.
 */
export function createApp(deps: Deps, realtime?: Realtime, givenMetrics?: ApiMetrics) {
  const { config, log } = deps;
  const cors = createCors(config.CORS_ORIGINS);
  const metrics = givenMetrics ?? createApiMetrics(deps, () => realtime?.connections ?? 0);
  const metricsToken = config.METRICS_TOKEN ? Buffer.from(`Bearer ${config.METRICS_TOKEN}`) : undefined;
  const debug = config.LOG_LEVEL === "debug";
  // Counted when the handler is done (or in the error hook): Elysia's after-response hook costs a
  // macrotask per request, which on the ingest path was a measurable share of the whole request.
  const observe = (request: Request, route: string | undefined, path: string, status: number) => {
    const meta = metaOf(request);
    if (meta.observed) return;
    meta.observed = true;
    const ms = performance.now() - meta.started;
    metrics.observeRequest(request.method, route || "unmatched", status, ms / 1000);
    if (debug) log.debug({ requestId: meta.id, method: request.method, path, status, ms: Math.round(ms) }, "request");
  };

  const app = new Elysia({
    websocket: {
      idleTimeout: Math.ceil((config.WS_HEARTBEAT_MS * 2) / 1000),
      sendPings: true,
      backpressureLimit: config.WS_MAX_BUFFER_BYTES,
      closeOnBackpressureLimit: true,
    },
  })
    // Hooks destructure what they use: Elysia reads their source to decide what to prepare per
    // request, and a hook that passes its whole context on makes it parse cookies, query and
    // headers for every request.
    .onRequest(({ request, set }) => {
      set.headers["x-request-id"] = metaOf(request).id;
      if (headerBytes(request.headers) > config.MAX_HEADER_BYTES) throw headersTooLarge(config.MAX_HEADER_BYTES);
      return cors.preflight(request, set.headers) ?? cors.apply(request, set.headers);
    })
    .onParse({ as: "global" }, async ({ request, path }) => {
      const method = request.method;
      // Bodiless methods get no body (null stops the generic parser below, which would choke on a WebSocket upgrade).
      if (method === "GET" || method === "HEAD" || method === "OPTIONS") return null;
      // Streamed bodies (NDJSON imports) are read by their handler as they arrive.
      if (STREAMED_BODY.test(path)) return null;
      return parseJsonBody(request, config.MAX_BODY_BYTES);
    })
    // Never reached (the parser above answers every body); it tells the OpenAPI generator the bodies are JSON.
    .onParse({ as: "global" }, { fn: "json" } as never)
    .onError({ as: "global" }, ({ code, error, request, path, route, principal, chargePending }: ErrorHookContext) => {
      const requestId = metaOf(request).id;
      const { response, unexpected } = errorToResponse(code, error, requestId, deps.redis.status === "ready");
      // A route that charges the rate limit in its own script never got there when it refused the
      // request as invalid (400) or forbidden (403); the principal was derived before, so charge now.
      if (response.status === 400 || response.status === 403) chargeRefused(deps, principal, chargePending);
      observe(request, route, path, response.status);
      if (unexpected) log.error({ requestId, method: request.method, path, err: error }, "unhandled error");
      else if (response.status === 503) log.warn({ requestId, path, err: (error as Error)?.message }, "redis unavailable");
      return response;
    })
    .onAfterHandle({ as: "global" }, ({ request, path, route, set, response }) => {
      const status = response instanceof Response ? response.status : typeof set.status === "number" ? set.status : 200;
      observe(request, route, path, status);
    })
    .get(
      "/metrics",
      // Not public: served here only with METRICS_TOKEN as a Bearer token (else a 404, as an unknown
      // route); scrapers on a private network use API_METRICS_PORT instead.
      ({ headers }) => {
        if (!metricsToken) throw new AppError(404, "not_found", "No such route");
        const presented = Buffer.from(headers.authorization ?? "");
        if (presented.length !== metricsToken.length || !timingSafeEqual(presented, metricsToken)) throw unauthorized();
        return metricsResponse(metrics);
      },
      { detail: { hide: true } },
    )
    .use(docs())
    .use(explorerRoutes(deps))
    .use(systemRoutes(deps))
    .use(authRoutes(deps))
    .use(messageRoutes(deps))
    .use(conversationRoutes(deps))
    .use(memoryRoutes(deps))
    .use(tenantRoutes(deps))
    .use(jobRoutes(deps))
    .use(webhookRoutes(deps))
    .use(mcpRoutes(deps));
  return realtime ? app.use(realtimeRoutes(deps, realtime)) : app;
}

export type App = ReturnType<typeof createApp>;
