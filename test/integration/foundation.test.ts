import { describe, expect, test } from "bun:test";
import { useHarness } from "../helpers/app";

const METRICS_TOKEN = "metrics-token-for-tests-0123456789";
const h = useHarness({ METRICS_TOKEN });

describe("health and readiness", () => {
  test("GET /health is 200 with a request id", async () => {
    const res = await h.request("GET", "/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("GET /ready names the vector engine", async () => {
    const { status, body } = await h.json("GET", "/ready");
    expect(status).toBe(200);
    expect(body).toEqual({
      status: "ready",
      redis: true,
      queue: true,
      vector_engine: h.deps.vectors.engine,
      vector_index: h.deps.vectors.name,
      embedding_model: "local-use-lite-512",
    });
  });
});

describe("error contract", () => {
  test("unknown route is a JSON 404", async () => {
    const { status, body, headers } = await h.json("GET", "/nope");
    expect(status).toBe(404);
    expect(body).toMatchObject({ code: "not_found", message: "No such route" });
    expect(headers.get("x-request-id")).toBe(body.request_id);
  });

  test("a bad body is 400 naming the fields, never 422", async () => {
    const { token } = await h.account();
    const { status, body } = await h.json("POST", "/v1/messages", {
      token,
      body: { tenant_id: "t", conversation_id: "c", role: "robot", content: "", importance: 3 },
    });
    expect(status).toBe(400);
    expect(body.code).toBe("validation_error");
    const fields = body.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(["content", "importance", "role"]);
  });

  test("malformed JSON is 400", async () => {
    const { token } = await h.account();
    const { status, body } = await h.json("POST", "/v1/messages", { token, body: '{"tenant_id": ' });
    expect(status).toBe(400);
    expect(body.code).toBe("malformed_json");
  });

  test("invalid UTF-8 is 400 malformed_json, with or without a declared length", async () => {
    const { token } = await h.account();
    const bad = new Uint8Array([...Buffer.from('{"tenant_id":"'), 0xff, 0xfe, ...Buffer.from('"}')]);
    for (const extra of [{}, { "content-length": String(bad.length) }] as Record<string, string>[]) {
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", ...extra };
      const res = await h.app.handle(new Request("http://localhost/v1/messages", { method: "POST", headers, body: bad }));
      expect(res.status).toBe(400);
      expect((await res.json()).code).toBe("malformed_json");
    }
  });

  test("another content type is 415", async () => {
    const { token } = await h.account();
    const { status, body } = await h.json("POST", "/v1/messages", { token, body: "tenant_id=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(status).toBe(415);
    expect(body.code).toBe("unsupported_media_type");
  });

  test("a body over the limit is 413", async () => {
    const { token } = await h.account();
    const big = "x".repeat(h.deps.config.MAX_BODY_BYTES + 10);
    const { status, body } = await h.json("POST", "/v1/messages", { token, body: JSON.stringify({ content: big }) });
    expect(status).toBe(413);
    expect(body.code).toBe("payload_too_large");
  });

  test("a caller's request id is echoed back", async () => {
    const res = await h.request("GET", "/health", { headers: { "x-request-id": "trace-12345678" } });
    expect(res.headers.get("x-request-id")).toBe("trace-12345678");
  });

  test("CORS preflight allows browser clients", async () => {
    const res = await h.request("OPTIONS", "/v1/messages", {
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
  });
});

describe("CORS with a list of origins", () => {
  test("only a listed origin is allowed; requests without Origin get no CORS headers", async () => {
    const { createApp } = await import("../../src/app");
    const app = createApp({ ...h.deps, config: { ...h.deps.config, CORS_ORIGINS: "https://app.example, https://admin.example" } });
    const preflight = (origin: string) =>
      app.handle(new Request("http://localhost/v1/messages", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } }));
    const allowed = await preflight("https://admin.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://admin.example");
    expect(allowed.headers.get("access-control-allow-headers")).toContain("x-api-key");
    expect(allowed.headers.get("vary")).toBe("Origin");
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(refused.headers.get("access-control-allow-methods")).toBeNull();

    const get = (headers: Record<string, string>) => app.handle(new Request("http://localhost/health", { headers }));
    const fromBrowser = await get({ origin: "https://app.example" });
    expect(fromBrowser.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(fromBrowser.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect((await get({ origin: "https://evil.example" })).headers.get("access-control-allow-origin")).toBeNull();
    const server = await get({});
    expect([...server.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
  });
});

describe("OpenAPI and Swagger UI", () => {
  test("/docs/json is an OpenAPI document describing every route", async () => {
    const { status, body } = await h.json("GET", "/docs/json");
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    for (const path of ["/v1/messages", "/v1/messages/batch", "/v1/memory/search", "/v1/conversations", "/v1/auth/login"]) {
      expect(Object.keys(body.paths)).toContain(path);
    }
    const post = body.paths["/v1/messages"].post;
    expect(post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/MessageInput" });
    expect(body.components.schemas.MessageInput.required).toEqual(["tenant_id", "conversation_id", "role", "content"]);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["202", "400", "401", "429"]));
    expect(post.tags).toEqual(["Messages"]);
  });

  test("/docs serves Swagger UI from local assets only", async () => {
    const res = await h.request("GET", "/docs");
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain("/docs/assets/swagger-ui-bundle.js");
    expect(html).not.toMatch(/https?:\/\/(unpkg|cdn|cdnjs|jsdelivr)/);
    const asset = await h.request("GET", "/docs/assets/swagger-ui-bundle.js");
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
  });

  test("/docs and /docs/ both load the definition (the spec URL resolves from either)", async () => {
    for (const path of ["/docs", "/docs/"]) {
      const html = await (await h.request("GET", path)).text();
      const url = /"url":"([^"]+)"/.exec(html)?.[1] as string;
      const spec = new URL(url, `http://localhost${path}`).pathname;
      const res = await h.request("GET", spec);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    }
  });
});

describe("metrics", () => {
  test("/metrics on the API port is not public: 404 without METRICS_TOKEN configured, 401 with a wrong token", async () => {
    const { createApp } = await import("../../src/app");
    const closed = createApp({ ...h.deps, config: { ...h.deps.config, METRICS_TOKEN: "" } });
    const none = await closed.handle(new Request("http://localhost/metrics"));
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ code: "not_found" });
    for (const authorization of [undefined, "Bearer wrong", `Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN]) {
      const res = await h.request("GET", "/metrics", { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
    }
    const { body: doc } = await h.json("GET", "/docs/json");
    expect(doc.paths["/metrics"]).toBeUndefined();
  });

  test("/metrics is Prometheus text with HTTP, queue, message and WebSocket figures", async () => {
    const { token } = await h.account();
    await h.json("POST", "/v1/messages", { token, body: { tenant_id: "m", conversation_id: "c", role: "user", content: "count me" } });
    await h.json("POST", "/v1/messages", { token, body: { tenant_id: "m" } });
    const res = await h.request("GET", "/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(/memory_mesh_http_requests_total\{method="POST",route="\/v1\/messages",status="202"\} 1/);
    expect(text).toMatch(/memory_mesh_http_requests_total\{method="POST",route="\/v1\/messages",status="400"\} [1-9]/);
    expect(text).not.toContain('status="422"');
    // The latency histogram of the route (every status): cumulative buckets ending at +Inf = count.
    const series = (suffix: string) =>
      [...text.matchAll(new RegExp(`^memory_mesh_http_request_duration_seconds_${suffix}\\{method="POST",route="/v1/messages"(?:,le="([^"]+)")?\\} (\\S+)$`, "gm"))];
    const buckets = series("bucket").map((m) => [m[1], Number(m[2])] as const);
    const count = Number(series("count")[0][2]);
    expect(count).toBeGreaterThanOrEqual(2);
    expect(buckets.at(-1)).toEqual(["+Inf", count]);
    expect(buckets.length).toBe(13);
    expect(buckets.map(([, n]) => n)).toEqual(buckets.map(([, n]) => n).toSorted((a, b) => a - b));
    expect(Number(series("sum")[0][2])).toBeGreaterThan(0);
    expect(text).toMatch(/# TYPE memory_mesh_http_request_duration_seconds histogram/);
    expect(text).toMatch(/memory_mesh_queue_jobs\{state="waiting"\} \d+/);
    expect(text).toMatch(/memory_mesh_dispatch_backlog [1-9]/);
    expect(text).toMatch(/memory_mesh_messages_total\{state="accepted"\} [1-9]/);
    expect(text).toMatch(/memory_mesh_pending_messages [1-9]/);
    expect(text).toContain("memory_mesh_index_lag_seconds");
    expect(text).toContain("memory_mesh_websocket_connections 0");
  });
});

describe("unexpected failures", () => {
  test("an unexpected error is a bare 500 with a request id and no stack", async () => {
    const { createApp } = await import("../../src/app");
    const broken = createApp({ ...h.deps, vectors: { ...h.deps.vectors, rank: () => Promise.reject(new Error("secret internals at /src/x.ts:1")) } });
    const { token } = await h.account();
    const res = await broken.handle(new Request("http://localhost/v1/memory/search?tenant_id=a&query=b", { headers: { authorization: `Bearer ${token}` } }));
    const body = (await res.json()) as Record<string, string>;
    expect(res.status).toBe(500);
    expect(body).toEqual({ message: "Internal server error", code: "internal_error", request_id: res.headers.get("x-request-id") as string });
  });
});
