import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import { authRoutes } from "./auth";
import { conversationRoutes } from "./conversations";
import type { Deps } from "./deps";
import { AppError, payloadTooLarge, unsupportedMediaType } from "./errors";
import { docs } from "./http/docs";
import { createApiMetrics } from "./metrics";
import { errorToResponse } from "./http/error-response";
import { memoryRoutes } from "./memory";
import { messageRoutes } from "./messages";
import type { Realtime } from "./realtime/hub";
import { realtimeRoutes } from "./realtime";
import { systemRoutes } from "./system";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;
const requestIds = new WeakMap<Request, string>();

export function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (!id) {
    const given = request.headers.get("x-request-id");
    id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    requestIds.set(request, id);
  }
  return id;
}

/**
 * Reads JSON bodies ourselves so every failure has its own status: 415 for another content type,
 * 413 past the limit, 400 for malformed JSON. An empty body is "no body" (clients send
 * `Content-Type: application/json` on GET and DELETE too).
 */
async function parseJsonBody(request: Request, limit: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw payloadTooLarge(limit);
  const bytes = await request.arrayBuffer();
  if (bytes.byteLength > limit) throw payloadTooLarge(limit);
  if (bytes.byteLength === 0) return null;
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && !type.endsWith("+json")) throw unsupportedMediaType(type || "(none)");
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(400, "malformed_json", "The request body is not valid JSON");
  }
}

/** The whole HTTP API over the given dependencies; `realtime` adds the WebSocket routes. */
export function createApp(deps: Deps, realtime?: Realtime) {
  const { config, log } = deps;
  const origins = config.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean);
  const started = new WeakMap<Request, number>();
  const failedWith = new WeakMap<Request, number>();
  const metrics = createApiMetrics(deps, () => realtime?.connections ?? 0);

  const app = new Elysia({
    websocket: {
      idleTimeout: Math.ceil((config.WS_HEARTBEAT_MS * 2) / 1000),
      sendPings: true,
      backpressureLimit: config.WS_MAX_BUFFER_BYTES,
      closeOnBackpressureLimit: true,
    },
  })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      set.headers["x-request-id"] = requestIdOf(request);
    })
    .use(
      cors({
        origin: origins.includes("*") ? true : origins,
        exposeHeaders: ["X-Request-Id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"],
        allowedHeaders: ["Content-Type", "Authorization", "x-api-key", "Idempotency-Key", "X-Request-Id"],
        maxAge: 600,
      }),
    )
    .onParse({ as: "global" }, async ({ request }) => {
      const method = request.method;
      // Bodiless methods get no body (null stops the generic parser below, which would choke on a WebSocket upgrade).
      if (method === "GET" || method === "HEAD" || method === "OPTIONS") return null;
      return parseJsonBody(request, config.MAX_BODY_BYTES);
    })
    // Never reached (the parser above answers every body); it tells the OpenAPI generator the bodies are JSON.
    .onParse({ as: "global" }, { fn: "json" } as never)
    .onError({ as: "global" }, ({ code, error, request, path }) => {
      const requestId = requestIdOf(request);
      const { response, unexpected } = errorToResponse(code, error, requestId, deps.redis.status === "ready");
      failedWith.set(request, response.status);
      if (unexpected) log.error({ requestId, method: request.method, path, err: error }, "unhandled error");
      else if (response.status === 503) log.warn({ requestId, path, err: (error as Error)?.message }, "redis unavailable");
      return response;
    })
    .onAfterResponse({ as: "global" }, ({ request, path, route, set }) => {
      const ms = performance.now() - (started.get(request) ?? performance.now());
      const status = failedWith.get(request) ?? (typeof set.status === "number" ? set.status : 200);
      metrics.observeRequest(request.method, route || "unmatched", status, ms / 1000);
      log.debug({ requestId: requestIdOf(request), method: request.method, path, status, ms: Math.round(ms) }, "request");
    })
    .get(
      "/metrics",
      async () =>
        new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } }),
      { detail: { tags: ["System"], summary: "Prometheus metrics (keep it on a private network)" } },
    )
    .use(docs())
    .use(systemRoutes(deps))
    .use(authRoutes(deps))
    .use(messageRoutes(deps))
    .use(conversationRoutes(deps))
    .use(memoryRoutes(deps));
  return realtime ? app.use(realtimeRoutes(deps, realtime)) : app;
}

export type App = ReturnType<typeof createApp>;
