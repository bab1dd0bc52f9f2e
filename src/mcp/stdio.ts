import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/**
 * `bun run mcp`: Memory Mesh as an MCP server over stdio, for local agent hosts (Claude Desktop,
 * IDEs). It relays every message to a Memory Mesh API's `/mcp` (Streamable HTTP) with an API key,
 * so the tools, their checks and their errors are the server's own. It is a client of the API, not
 * part of it: its two settings are read here, not in the server's configuration.
 */
const Settings = Type.Object({
  MEMORY_MESH_URL: Type.String({ default: "http://localhost:8000", description: "The Memory Mesh API" }),
  MEMORY_MESH_API_KEY: Type.String({ minLength: 1, description: "An API key (POST /v1/auth/api-keys); its scopes and tenants apply" }),
});

const env = Value.Default(Settings, { MEMORY_MESH_URL: process.env.MEMORY_MESH_URL || undefined, MEMORY_MESH_API_KEY: process.env.MEMORY_MESH_API_KEY });
if (!Value.Check(Settings, env)) {
  process.stderr.write("memory-mesh mcp: set MEMORY_MESH_API_KEY (and MEMORY_MESH_URL if the API is not at http://localhost:8000)\n");
  process.exit(2);
}

const remote = new StreamableHTTPClientTransport(new URL("/mcp", env.MEMORY_MESH_URL), {
  requestInit: { headers: { "x-api-key": env.MEMORY_MESH_API_KEY } },
});
const local = new StdioServerTransport();

/** A request the API could not be asked (down, 401, ...) is answered with a JSON-RPC error, never left hanging. */
local.onmessage = (message: JSONRPCMessage) => {
  remote.send(message).catch((error: Error) => {
    if ("id" in message && "method" in message) {
      local.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: `Memory Mesh API: ${error.message}` } }).catch(() => undefined);
    }
  });
};
remote.onmessage = (message) => {
  local.send(message).catch(() => undefined);
};
remote.onerror = (error) => process.stderr.write(`memory-mesh mcp: ${error.message}\n`);
local.onclose = () => {
  remote.close().finally(() => process.exit(0));
};

await remote.start();
await local.start();
