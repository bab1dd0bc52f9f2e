import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Elysia } from "elysia";
import { requireAuth } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { canonicalSchema } from "../http/openapi-document";
import { createQueryCache, type QueryEmbedder } from "../memory/search";
import { callTool, TOOLS } from "./tools";

const INSTRUCTIONS = [
  "Memory Mesh is long-term conversational memory. Store what is said with `remember` (tenant_id is your application's",
  "namespace, conversation_id the chat), and before answering anything that may depend on earlier conversations call",
  "`search_memory` with the user's question. `get_conversation` and `list_conversations` read history; `forget` deletes.",
].join(" ");

/** JSON Schema of a `t` schema as the OpenAPI document states it: plain data, numbers as numbers only. */
const plain = (schema: unknown) => canonicalSchema(JSON.parse(JSON.stringify(schema)));

const LISTED_TOOLS = TOOLS.map((tool) => ({
  name: tool.name,
  title: tool.title,
  description: tool.description,
  inputSchema: plain(tool.inputSchema),
  outputSchema: plain(tool.outputSchema),
  annotations: tool.annotations,
}));

/** An MCP server whose tools act as `principal`, through the same services (and checks) as the REST API. */
export function createMcpServer(deps: Deps, embedQuery: QueryEmbedder, principal: Principal, requestId: () => string): Server {
  const server = new Server({ name: "memory-mesh", version: "0.1.0" }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: LISTED_TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, (request) => callTool(deps, embedQuery, principal, request.params.name, request.params.arguments, requestId()));
  return server;
}

/**
 * MCP over Streamable HTTP at `/mcp`, authenticated like the REST API (Bearer token or x-api-key,
 * rate limited per request). Stateless: each POST is answered on its own (JSON responses, no
 * session), so any API instance can answer any call and nothing is kept between them; a GET (a
 * server-to-client stream) is answered 405, as the protocol allows for servers with nothing to push.
 */
export function mcpRoutes(deps: Deps) {
  const embedQuery = createQueryCache(deps.embedder, deps.config.QUERY_CACHE_SIZE);
  const handle = async ({ request, body, principal, set }: { request: Request; body: unknown; principal: Principal; set: { headers: Record<string, string | number> } }) => {
    const requestId = () => String(set.headers["x-request-id"] ?? crypto.randomUUID());
    const server = createMcpServer(deps, embedQuery, principal, requestId);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    try {
      const response = await transport.handleRequest(request, { parsedBody: body ?? undefined });
      for (const [name, value] of Object.entries(set.headers)) if (!response.headers.has(name)) response.headers.set(name, String(value));
      return response;
    } finally {
      await server.close();
    }
  };
  return new Elysia({ tags: ["MCP"] })
    .derive(requireAuth(deps))
    .post("/mcp", handle, { detail: { hide: true } })
    .get("/mcp", handle, { detail: { hide: true } })
    .delete("/mcp", handle, { detail: { hide: true } });
}
