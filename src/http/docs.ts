import { dirname, join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { notFound } from "../errors";

const ASSETS = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"]);
const assetDir = dirname(require.resolve("swagger-ui-dist/package.json"));

const DESCRIPTION = `Conversational memory for LLM applications: store every chat message, search it by meaning.

**Auth**: \`Authorization: Bearer <access token>\` (from /v1/auth/login) or \`x-api-key: <key>\`.

**Errors** are JSON \`{ "message", "code", "details"? }\` with the status code; every response has \`X-Request-Id\`.

**WebSocket** \`GET /ws/messages/{tenant_id}\` (optional \`conversation_id\`; credentials by header, or \`token\` / \`api_key\` query parameter for browsers) streams events
\`{ "type", "tenant_id", "conversation_id", "message", "ts" }\` where \`type\` is \`message.created\`, \`message.indexed\`, \`message.failed\` or \`message.deleted\` and \`message\` has the same shape as \`GET /v1/messages/{id}\`.`;

/** OpenAPI at /docs/json and Swagger UI at /docs, with Swagger UI's files served from swagger-ui-dist (no CDN). */
export function docs() {
  return new Elysia({ name: "docs" })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: "swagger-ui",
        swagger: {
          theme: "/docs/assets/swagger-ui.css",
          cdn: "/docs/assets/swagger-ui-bundle.js",
          persistAuthorization: true,
          // Absolute, so /docs/ (trailing slash) finds the definition too: the plugin writes a relative
          // "docs/json" and its type leaves `url` out, though the option reaches Swagger UI as given.
          url: "/docs/json",
        } as Record<string, unknown>,
        exclude: { paths: ["/docs/assets/*"] },
        documentation: {
          info: { title: "Memory Mesh API", version: "0.1.0", description: DESCRIPTION },
          tags: [
            { name: "System", description: "Health, readiness, metrics" },
            { name: "Auth", description: "Accounts, tokens and API keys" },
            { name: "Messages", description: "Store messages (answered 202, indexed in the background)" },
            { name: "Conversations", description: "Conversations and their history" },
            { name: "Memory", description: "Search (hybrid, semantic, keyword) and reindexing" },
            { name: "Realtime", description: "WebSocket events" },
          ],
          components: {
            securitySchemes: {
              bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
              apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
            },
          },
        },
      }),
    )
    .get(
      "/docs/assets/:file",
      ({ params: { file } }) => {
        if (!ASSETS.has(file)) throw notFound("Asset");
        return new Response(Bun.file(join(assetDir, file)), {
          headers: { "cache-control": "public, max-age=86400" },
        });
      },
      { detail: { hide: true } },
    );
}
