import { beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eventually, useHarness } from "../helpers/app";

/**
 * The MCP server, driven by the official SDK's own client over both transports: Streamable HTTP
 * on /mcp, and stdio through `bun run mcp` (which relays to /mcp with an API key).
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10" }, { worker: true });
const root = new URL("../..", import.meta.url).pathname;
let base = "";

beforeAll(() => {
  h.app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${h.app.server?.port}`;
  h.cleanup(() => h.app.stop(true));
});

type ToolResult = { content: { type: string; text: string }[]; structuredContent?: Record<string, any>; isError?: boolean };

async function connect(headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: "memory-mesh-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } }));
  h.cleanup(() => client.close());
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolResult;

describe("MCP over Streamable HTTP", () => {
  test("lists five tools, each with a description for an LLM, an input schema with examples and an output schema", async () => {
    const { token } = await h.account();
    const client = await connect({ authorization: `Bearer ${token}` });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["forget", "get_conversation", "list_conversations", "remember", "search_memory"]);
    for (const tool of tools) {
      expect({ name: tool.name, described: (tool.description ?? "").length > 80, input: tool.inputSchema.type, examples: Array.isArray((tool.inputSchema as { examples?: unknown }).examples), output: tool.outputSchema?.type }).toEqual({
        name: tool.name, described: true, input: "object", examples: true, output: "object",
      });
    }
    expect(client.getInstructions()).toContain("search_memory");
  });

  test("a conversation: remember three messages, wait until indexed, find one with search_memory by a paraphrase", async () => {
    const { token } = await h.account();
    const client = await connect({ authorization: `Bearer ${token}` });
    await client.listTools(); // every result below is checked against its tool's output schema by the SDK
    const stored = await call(client, "remember", {
      tenant_id: "assistant",
      conversation_id: "chat-1",
      messages: [
        { role: "user", content: "I adopted a grey cat last spring and named her Biscuit" },
        { role: "assistant", content: "Biscuit is a lovely name! How is she settling in?" },
        { role: "user", content: "I am flying to Lisbon for a conference in March" },
      ],
    });
    expect(stored.isError).toBeUndefined();
    expect(stored.structuredContent?.stored).toHaveLength(3);
    expect(stored.content[0].text).toStartWith("Stored 3 message(s)");
    await eventually("all three indexed", async () => {
      const history = await call(client, "get_conversation", { conversation_id: "chat-1", tenant_id: "assistant" });
      return history.structuredContent?.messages.every((m: { status: string }) => m.status === "indexed");
    });
    const found = await call(client, "search_memory", { tenant_id: "assistant", query: "what pet does the user have", top_k: 1 });
    expect(found.structuredContent?.results.map((r: { content: string }) => r.content)).toEqual(["I adopted a grey cat last spring and named her Biscuit"]);
    expect(found.content[0].text).toContain("Biscuit");

    const listed = await call(client, "list_conversations", { tenant_id: "assistant" });
    expect(listed.structuredContent).toMatchObject({ total: 1, conversations: [{ conversation_id: "chat-1", message_count: 3 }] });
    expect(listed.content[0].text).toContain("chat-1: 3 message(s)");
    const history = await call(client, "get_conversation", { conversation_id: "chat-1", limit: 2, offset: 1 });
    expect(history.structuredContent?.messages.map((m: { role: string }) => m.role)).toEqual(["assistant", "user"]);

    const messageId = stored.structuredContent?.stored[2].id;
    expect((await call(client, "forget", { message_id: messageId })).structuredContent).toEqual({ forgotten: "message", id: messageId });
    expect((await call(client, "forget", { conversation_id: "chat-1", tenant_id: "assistant" })).structuredContent).toEqual({ forgotten: "conversation", id: "chat-1" });
    expect((await call(client, "search_memory", { tenant_id: "assistant", query: "cat" })).structuredContent?.results).toEqual([]);
  });

  test("bad arguments and failures are tool errors in the REST API's words, never protocol errors", async () => {
    const { token } = await h.account();
    const client = await connect({ authorization: `Bearer ${token}` });
    await client.listTools(); // the client checks results against the listed output schemas from now on
    const noQuery = await call(client, "search_memory", { tenant_id: "t" });
    expect(noQuery.isError).toBe(true);
    expect(noQuery.content[0].text).toStartWith("Invalid request: query (400 validation_error)");
    expect(noQuery.structuredContent).toBeUndefined();
    const badRole = await call(client, "remember", { tenant_id: "t", conversation_id: "c", messages: [{ role: "robot", content: "x" }] });
    expect(badRole.content[0].text).toContain("role must be one of user, assistant, system, tool");
    const both = await call(client, "forget", {});
    expect(both.content[0].text).toContain("Give message_id or conversation_id (one of them)");
    const missing = await call(client, "forget", { message_id: "nope" });
    expect(missing.content[0].text).toBe("Message not found (404 not_found)");
    const unknown = await call(client, "no_such_tool", {});
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0].text).toContain("Unknown tool");
  });

  test("credentials: none or bad is refused (401); an API key is held to its tenants and scopes", async () => {
    await expect(connect({})).rejects.toThrow();
    await expect(connect({ "x-api-key": "mm_live_not_a_key" })).rejects.toThrow();
    const { token } = await h.account();
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "mine only", tenant_ids: ["mine"], scopes: ["read"] } })).body.key;
    const client = await connect({ "x-api-key": key });
    await client.listTools();
    const other = await call(client, "search_memory", { tenant_id: "theirs", query: "anything" });
    expect(other.content[0].text).toBe("This API key may not access this tenant (403 forbidden)");
    const write = await call(client, "remember", { tenant_id: "mine", conversation_id: "c", messages: [{ role: "user", content: "x" }] });
    expect(write.content[0].text).toBe('This API key does not have the "write" scope (403 forbidden)');
    // Another account's conversation is simply not there.
    const owner = await h.account();
    await h.json("POST", "/v1/messages", { token: owner.token, body: { tenant_id: "mine", conversation_id: "secret", role: "user", content: "private" } });
    expect((await call(client, "get_conversation", { conversation_id: "secret", tenant_id: "mine" })).content[0].text).toBe("Conversation not found (404 not_found)");
  });
});

describe("MCP over stdio (bun run mcp)", () => {
  test("relays to the API with the API key from the environment: tools, calls and errors as over HTTP", async () => {
    const { token } = await h.account();
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "desktop agent" } })).body.key;
    const client = new Client({ name: "agent-host", version: "1.0.0" });
    const transport = new StdioClientTransport({ command: "bun", args: ["run", "mcp"], cwd: root, env: { PATH: process.env.PATH ?? "", MEMORY_MESH_URL: base, MEMORY_MESH_API_KEY: key }, stderr: "ignore" });
    await client.connect(transport);
    h.cleanup(() => client.close());
    expect((await client.listTools()).tools).toHaveLength(5);
    const stored = (await client.callTool({ name: "remember", arguments: { tenant_id: "t", conversation_id: "c", messages: [{ role: "user", content: "the spare key is under the blue flowerpot" }] } })) as ToolResult;
    expect(stored.structuredContent?.stored).toHaveLength(1);
    await eventually("indexed", async () => (await h.json("GET", `/v1/messages/${stored.structuredContent?.stored[0].id}`, { token })).body.status === "indexed");
    const found = (await client.callTool({ name: "search_memory", arguments: { tenant_id: "t", query: "where is the spare key" } })) as ToolResult;
    expect(found.structuredContent?.results[0].content).toBe("the spare key is under the blue flowerpot");
    const bad = (await client.callTool({ name: "get_conversation", arguments: { conversation_id: "nope" } })) as ToolResult;
    expect(bad).toMatchObject({ isError: true, content: [{ type: "text", text: "Conversation not found (404 not_found)" }] });
  });

  test("a bad API key: every request is answered with an error, the host is never left waiting", async () => {
    const client = new Client({ name: "agent-host", version: "1.0.0" });
    const transport = new StdioClientTransport({ command: "bun", args: ["run", "mcp"], cwd: root, env: { PATH: process.env.PATH ?? "", MEMORY_MESH_URL: base, MEMORY_MESH_API_KEY: "mm_live_wrong" }, stderr: "ignore" });
    await expect(client.connect(transport)).rejects.toThrow(/401|Unauthorized|credentials/i);
    await client.close();
  });
});
