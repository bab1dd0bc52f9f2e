import { dirname, join } from "node:path";
import { toOpenAPISchema } from "@elysiajs/openapi";
import { SwaggerUIRender } from "@elysiajs/openapi/swagger";
import { type AnyElysia, Elysia } from "elysia";
import { ApiKeyInfo, ApiKeyList, CreatedApiKey, RefreshBody, Scope, TokenPair, User } from "../auth/model";
import { Conversation, ConversationList, History } from "../conversations/model";
import { notFound } from "../errors";
import { ContextMessage, ReindexResponse, SearchExplain, SearchResponse, SearchResult } from "../memory/model";
import { BatchCreated, Message, MessageInput, MessageStatus, Role } from "../messages/model";
import { MessageEvent } from "../events/model";
import { Health, Ready } from "../system/model";
import { refineDocument } from "./openapi-document";
import { ErrorBody } from "./schemas";

const ASSETS = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"]);
const assetDir = dirname(require.resolve("swagger-ui-dist/package.json"));

const OPENAPI_VERSION = "3.1.2";

/**
 * Response bodies and shared shapes by the names clients see (`components.schemas`): wherever a
 * route's schema is one of these, the document refers to it by name. A request body used by one
 * route stays inline: generators such as openapi-typescript read a `default` in a named schema as
 * "always present" (true of responses) and would make clients send every defaulted field.
 */
const COMPONENTS = {
  Error: ErrorBody,
  Role,
  Message,
  MessageStatus,
  MessageInput,
  MessageBatch: BatchCreated,
  MessageEvent,
  Conversation,
  ConversationList,
  ConversationHistory: History,
  SearchResponse,
  SearchResult,
  SearchExplain,
  ContextMessage,
  ReindexResponse,
  RefreshRequest: RefreshBody,
  User,
  Tokens: TokenPair,
  Scope,
  ApiKey: ApiKeyInfo,
  NewApiKey: CreatedApiKey,
  ApiKeyList,
  Health,
  Readiness: Ready,
};

const DESCRIPTION = `Conversational memory for LLM applications: store every chat message, search it by meaning.

**Auth**: \`Authorization: Bearer <access token>\` (from /v1/auth/login) or \`x-api-key: <key>\`.

**Errors** are JSON \`{ "message", "code", "details"? }\` (the \`Error\` schema) with the status code; every response has \`X-Request-Id\`.

**WebSocket** \`GET /ws/messages/{tenant_id}\` (optional \`conversation_id\`; credentials by header; browsers offer the subprotocols \`memory-mesh\` and \`bearer.<base64url token>\` (or \`apikey.<base64url key>\`) and the server selects \`memory-mesh\`; \`token\` / \`api_key\` query parameters work too) streams events
\`{ "type", "tenant_id", "conversation_id", "message", "ts" }\` (the \`MessageEvent\` schema) where \`type\` is \`message.created\`, \`message.indexed\`, \`message.failed\`, \`message.updated\` or \`message.deleted\` (with a \`reason\`) and \`message\` has the same shape as \`GET /v1/messages/{id}\`.
OpenAPI has no WebSocket operations, so it is described under \`x-websocket\` (path, parameters, event schema) instead of \`paths\`.`;

const INFO = { title: "Memory Mesh API", version: "0.1.0", description: DESCRIPTION };

const TAGS = [
  { name: "System", description: "Health and readiness" },
  { name: "Auth", description: "Accounts, tokens and API keys" },
  { name: "Messages", description: "Store messages (answered 202, indexed in the background), list, update and delete them" },
  { name: "Conversations", description: "Conversations and their history" },
  { name: "Memory", description: "Search (hybrid, semantic, keyword) and reindexing" },
  { name: "Tenants", description: "Tenants and their counts, retention policy, export, import and erase" },
  { name: "Jobs", description: "Data jobs (delete by filter, tenant erase): progress and outcome" },
  { name: "Webhooks", description: "Signed event deliveries to your own HTTP endpoints (Standard Webhooks), with retries and a delivery log" },
];

const SECURITY_SCHEMES = {
  bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
  apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
};

/** The whole document: the plugin's paths from every route's schemas, refined (see openapi-document.ts). */
function buildDocument(app: AnyElysia) {
  const { paths } = toOpenAPISchema(app, undefined, undefined, undefined, OPENAPI_VERSION);
  const refined = refineDocument(paths as Parameters<typeof refineDocument>[0], COMPONENTS, OPENAPI_VERSION);
  return {
    openapi: OPENAPI_VERSION,
    info: INFO,
    // Relative: the document describes the server it is served from, whatever its public address.
    servers: [{ url: "/", description: "The server serving this document" }],
    tags: TAGS,
    paths: refined.paths,
    components: { schemas: refined.schemas, securitySchemes: SECURITY_SCHEMES },
    "x-websocket": refined.websockets,
  };
}

/** OpenAPI at /docs/json and Swagger UI at /docs, with Swagger UI's files served from swagger-ui-dist (no CDN). */
export function docs() {
  const page = SwaggerUIRender(
    // The page's <meta description> takes this text unescaped: keep it plain.
    { title: INFO.title, version: INFO.version, description: "Memory Mesh API reference" },
    {
      theme: "/docs/assets/swagger-ui.css",
      cdn: "/docs/assets/swagger-ui-bundle.js",
      persistAuthorization: true,
      // Absolute, so /docs/ (trailing slash) finds the definition too.
      url: "/docs/json",
      dom_id: "#swagger-ui",
    } as Parameters<typeof SwaggerUIRender>[1],
  );
  const plugin = new Elysia({ name: "docs" });
  // Built on the first request, when createApp has registered every route.
  let document: ReturnType<typeof buildDocument> | undefined;
  return plugin
    .get("/docs", () => new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } }), { detail: { hide: true } })
    .get(
      "/docs/json",
      () => {
        document ??= buildDocument(plugin);
        return document;
      },
      { detail: { hide: true } },
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
