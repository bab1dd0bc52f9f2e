import { beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../../src/app";
import { createTokens } from "../../../src/auth/tokens";
import { createRealtime } from "../../../src/realtime/hub";
import { eventually, useHarness } from "../../../test/helpers/app";
import { type EventStream, MemoryMeshClient, MemoryMeshError, type MessageEvent, type WebSocketFactory } from "../src/index";
import { listen, recordingFetch } from "./support";

/** The event stream against the real server: real sockets, real close codes, real indexing. */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20" }, { worker: true, realtime: true });
let base = "";

beforeAll(() => {
  base = listen(h.app);
  h.cleanup(() => h.app.stop(true));
});

/** Bun's WebSocket takes headers (its type does not say so). */
const HeaderWebSocket = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;

/** A WebSocket factory that records the URLs and headers it was asked for. */
function recordingSockets() {
  const opened: { url: string; headers?: Record<string, string>; protocols?: string[]; socket?: WebSocket }[] = [];
  const webSocket: WebSocketFactory = (url, headers, protocols) => {
    const socket = headers ? new HeaderWebSocket(url, { headers }) : new WebSocket(url, protocols);
    opened.push({ url, headers, protocols, socket });
    return socket;
  };
  return { opened, webSocket };
}

async function newClient(options: { baseUrl?: string; socketCredentials?: "query" | "headers" | "subprotocol" } = {}) {
  const account = await h.account("events");
  const sockets = recordingSockets();
  const recorder = recordingFetch();
  const client = new MemoryMeshClient({
    baseUrl: options.baseUrl ?? base,
    accessToken: account.token,
    refreshToken: account.refresh,
    fetch: recorder.fetch,
    webSocket: sockets.webSocket,
    socketCredentials: options.socketCredentials,
  });
  return { client, account, sockets, ...recorder };
}

/** Reads events until one matches; answers every event read. */
async function readUntil(stream: EventStream, done: (event: MessageEvent) => boolean): Promise<MessageEvent[]> {
  const seen: MessageEvent[] = [];
  for await (const event of stream) {
    seen.push(event);
    if (done(event)) break;
  }
  return seen;
}

async function endOf(stream: EventStream): Promise<unknown> {
  try {
    for await (const _ of stream) {
      // events before the end are not what this waits for
    }
  } catch (error) {
    return error;
  }
  return "ended without an error";
}

const input = (content: string, conversation = "chat") => ({ tenant_id: "app", conversation_id: conversation, role: "user" as const, content });

describe("events", () => {
  test("message.created then message.indexed for a stored message; leaving the loop closes the socket", async () => {
    const { client, sockets } = await newClient();
    const stream = client.events("app");
    await stream.opened;
    expect(sockets.opened.map((s) => new URL(s.url).pathname)).toEqual(["/ws/messages/app"]);
    expect(new URL(sockets.opened[0].url).searchParams.get("token")).toEqual(expect.any(String));
    const stored = await client.messages.store(input("events reach the client"));
    const seen = await readUntil(stream, (e) => e.type === "message.indexed" && e.message.id === stored.id);
    expect(seen.map((e) => [e.type, e.message.id])).toEqual([
      ["message.created", stored.id],
      ["message.indexed", stored.id],
    ]);
    expect(seen[1]).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: "message.indexed",
      tenant_id: "app",
      conversation_id: "chat",
      message: { ...stored, status: "indexed", indexed_at: expect.any(String) },
      ts: expect.any(String),
    });
    await eventually("the socket closed", () => h.realtime?.connections === 0);
  });

  test("a conversation's events only, with the credential in headers; deletions carry their reason", async () => {
    const { client, sockets } = await newClient({ socketCredentials: "headers" });
    const stream = client.events("app", { conversationId: "wanted" });
    await stream.opened;
    expect(sockets.opened[0].headers).toEqual({ authorization: expect.stringMatching(/^Bearer /) });
    expect(new URL(sockets.opened[0].url).search).toBe("?conversation_id=wanted");
    await client.messages.store(input("not this one", "other"));
    const wanted = await client.messages.store(input("this one", "wanted"));
    await client.messages.delete(wanted.id);
    const seen = await readUntil(stream, (e) => e.type === "message.deleted");
    expect(seen.map((e) => [e.type, e.conversation_id, e.reason])).toEqual([
      ["message.created", "wanted", undefined],
      ["message.deleted", "wanted", "deleted"],
    ]);
  });

  test("the credential as a subprotocol: out of the URL, the server selects memory-mesh, events arrive", async () => {
    const { client, sockets } = await newClient({ socketCredentials: "subprotocol" });
    const stream = client.events("app");
    await stream.opened;
    expect(sockets.opened[0].protocols).toEqual(["memory-mesh", expect.stringMatching(/^bearer\.[A-Za-z0-9_-]+$/)]);
    expect(new URL(sockets.opened[0].url).search).toBe("");
    expect(sockets.opened[0].socket?.protocol).toBe("memory-mesh");
    const stored = await client.messages.store(input("over a subprotocol credential", "sub"));
    const seen = await readUntil(stream, (e) => e.type === "message.created");
    expect(seen.map((e) => e.message.id)).toEqual([stored.id]);
    await stream.close();
  });

  test("an API key's stream (?api_key=); revoking the key (4002) ends it with api_key_revoked", async () => {
    const { client } = await newClient();
    const key = await client.auth.apiKeys.create({ name: "listener" });
    const sockets = recordingSockets();
    const keyed = new MemoryMeshClient({ baseUrl: base, apiKey: key.key, webSocket: sockets.webSocket });
    const closes: number[] = [];
    const stream = keyed.events("app", { onClose: ({ code }) => closes.push(code) });
    await stream.opened;
    expect(new URL(sockets.opened[0].url).searchParams.get("api_key")).toBe(key.key);
    await client.auth.apiKeys.revoke(key.id);
    const error = await endOf(stream);
    expect(error).toBeInstanceOf(MemoryMeshError);
    expect(error).toMatchObject({ status: 0, code: "api_key_revoked", details: { close_code: 4002 } });
    expect(closes).toEqual([4002]);
    expect(sockets.opened).toHaveLength(1);
  });

  test("deleting the account (4003) ends the stream with account_deleted", async () => {
    const { client, account } = await newClient();
    const stream = client.events("app");
    await stream.opened;
    expect((await h.request("DELETE", "/v1/auth/me", { token: account.token, body: { password: "SecurePass123" } })).status).toBe(204);
    expect(await endOf(stream)).toMatchObject({ code: "account_deleted", details: { close_code: 4003 } });
  });

  test("an expired access token (4001): the client refreshes, reconnects, and events keep coming", async () => {
    const account = await h.account("expiring");
    // Tokens as the server issues them, with a 2-second access token (ACCESS_TOKEN_TTL_S cannot go below 30).
    const short = await createTokens({ ...h.deps.config, ACCESS_TOKEN_TTL_S: 2 }).issue(h.deps.redis, account.userId);
    const recorder = recordingFetch();
    const client = new MemoryMeshClient({ baseUrl: base, accessToken: short.access_token, refreshToken: short.refresh_token, fetch: recorder.fetch });
    const closes: number[] = [];
    let opens = 0;
    const stream = client.events("app", { onOpen: () => opens++, onClose: ({ code }) => closes.push(code) });
    await stream.opened;
    await eventually("a second connection", () => opens === 2, 10_000);
    expect(closes).toEqual([4001]);
    expect(recorder.lines()).toEqual(["POST /v1/auth/refresh 200"]);
    expect(client.auth.tokens.accessToken).not.toBe(short.access_token);

    const stored = await client.messages.store(input("after the reconnect"));
    const seen = await readUntil(stream, (e) => e.type === "message.indexed");
    expect(seen.map((e) => [e.type, e.message.id])).toEqual([
      ["message.created", stored.id],
      ["message.indexed", stored.id],
    ]);
  });

  test("a server shutting down (1001): the client reconnects to the restarted server", async () => {
    // An API instance of its own on the same Redis, stopped and started again on the same port.
    const start = (port = 0) => {
      const realtime = createRealtime(h.deps);
      return realtime.then((hub) => {
        const app = createApp(h.deps, hub);
        app.listen({ port, hostname: "127.0.0.1" });
        return { hub, app, port: app.server?.port as number };
      });
    };
    const first = await start();
    const { client } = await newClient({ baseUrl: `http://127.0.0.1:${first.port}` });
    const closes: number[] = [];
    let opens = 0;
    const stream = client.events("app", { onOpen: () => opens++, onClose: ({ code }) => closes.push(code), baseDelayMs: 50, maxDelayMs: 200 });
    await stream.opened;

    await first.hub.close();
    await first.app.stop(true);
    await eventually("the close seen", () => closes.length > 0);
    const second = await start(first.port);
    h.cleanup(async () => {
      await second.hub.close();
      await second.app.stop(true);
    });
    await eventually("a connection to the restarted server", () => opens === 2, 15_000);
    expect(closes[0]).toBe(1001);

    const stored = await client.messages.store(input("after the restart"));
    const seen = await readUntil(stream, (e) => e.type === "message.indexed");
    expect(seen.map((e) => [e.type, e.message.id])).toEqual([
      ["message.created", stored.id],
      ["message.indexed", stored.id],
    ]);
  }, 30_000);

  test("an AbortSignal stops the stream: the loop ends and the socket closes", async () => {
    const { client } = await newClient();
    const controller = new AbortController();
    const stream = client.events("app", { signal: controller.signal });
    await stream.opened;
    await eventually("the socket registered", () => (h.realtime?.connections ?? 0) > 0);
    const reading = endOf(stream);
    controller.abort();
    expect(await reading).toBe("ended without an error");
    await eventually("the socket closed", () => h.realtime?.connections === 0);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  test("a refused upgrade is explained by the HTTP API: 403 for a tenant the key may not read, 401 without credentials", async () => {
    const { client } = await newClient();
    const key = await client.auth.apiKeys.create({ name: "only-a", tenant_ids: ["a"] });
    const keyed = new MemoryMeshClient({ baseUrl: base, apiKey: key.key });
    const refused = keyed.events("b");
    const error = await endOf(refused);
    expect(error).toMatchObject({ status: 403, code: "forbidden" });
    expect(await refused.opened.catch((reason) => reason)).toBe(error);

    const anonymous = new MemoryMeshClient({ baseUrl: base }).events("app");
    expect(await endOf(anonymous)).toMatchObject({ status: 401, code: "unauthorized" });
  });
});
