import { beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { createApp } from "../../src/app";
import { createRealtime, type Realtime } from "../../src/realtime/hub";
import { keys } from "../../src/store/keys";
import { eventually, useHarness } from "../helpers/app";
import { listen as listenAt, silentWebSocketPeer, spawnWorker } from "../helpers/processes";

/** Instance A serves HTTP writes in-process; instance B (own app, own subscriber) holds the sockets; the worker is a third process. */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10" }, { realtime: true });
let b: ReturnType<typeof createApp>;
let realtimeB: Realtime;
let worker: Subprocess;
let base: string;

beforeAll(async () => {
  realtimeB = await createRealtime(h.deps);
  b = createApp(h.deps, realtimeB).listen({ port: 0, hostname: "127.0.0.1" });
  base = `127.0.0.1:${b.server?.port}`;
  worker = spawnWorker(h.redisUrl, { EMBED_BATCH_WAIT_MS: "10" });
  h.cleanup(async () => {
    worker.kill("SIGTERM");
    await worker.exited;
    await realtimeB.close();
    await b.stop(true);
  });
});

const listen = (path: string, headers: Record<string, string> = {}, protocols?: string[]) => listenAt(base, path, headers, protocols);
/** What a browser offers: `memory-mesh` and the credential, base64url-encoded, as a second subprotocol. */
const offer = (kind: "bearer" | "apikey", secret: string) => [`${kind}.${Buffer.from(secret).toString("base64url")}`, "memory-mesh"];

/** The HTTP answer to an upgrade request, to see refusals (a browser only sees "failed"). */
async function upgradeStatus(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://${base}${path}`, {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  return { status: res.status, body: await res.text() };
}

const post = (token: string, tenant: string, content: string, conversation = "c1") =>
  h.json("POST", "/v1/messages", { token, body: { tenant_id: tenant, conversation_id: conversation, role: "user", content } });

describe("WebSocket events across instances", () => {
  test("a subscriber on instance B gets created then indexed for its tenant only", async () => {
    const alice = await h.account("alice");
    const bob = await h.account("bob");
    const listener = await listen("/ws/messages/my-app", { authorization: `Bearer ${alice.token}` });
    const others = [
      { token: bob.token, id: (await post(bob.token, "my-app", "bob's message in bob's my-app")).body.id },
      { token: alice.token, id: (await post(alice.token, "other-tenant", "alice in another tenant")).body.id },
    ];
    const mine = await post(alice.token, "my-app", "alice's message");
    await eventually("indexed event", () => listener.events.some((e) => e.type === "message.indexed"), 30_000);
    // Events reach the socket in the order they were published. Once the other messages are
    // indexed (their events published) and a later message of alice's has arrived, any event of
    // theirs would have arrived before it.
    await eventually("the other messages indexed", async () => {
      const states = await Promise.all(others.map(({ token, id }) => h.json("GET", `/v1/messages/${id}`, { token })));
      return states.every((s) => s.body.status === "indexed");
    }, 30_000);
    const last = await post(alice.token, "my-app", "alice's last message");
    await eventually("the last message's event", () => listener.events.some((e) => e.message.id === last.body.id));
    expect(listener.events.filter((e) => e.message.id !== last.body.id).map((e) => [e.type, e.message.id])).toEqual([
      ["message.created", mine.body.id],
      ["message.indexed", mine.body.id],
    ]);
    const [created, indexed] = listener.events;
    expect(created).toEqual({ id: expect.stringMatching(/^evt_/), type: "message.created", tenant_id: "my-app", conversation_id: "c1", message: mine.body, ts: expect.any(String) });
    expect(indexed.message).toMatchObject({ id: mine.body.id, status: "indexed", indexed_at: expect.any(String) });
    expect(JSON.stringify(listener.events)).not.toContain(alice.userId);
    listener.socket.close();
  });

  test("conversation_id narrows the stream; deletes are pushed", async () => {
    const { token } = await h.account();
    const listener = await listen("/ws/messages/t?conversation_id=wanted", { authorization: `Bearer ${token}` });
    await post(token, "t", "not this one", "other");
    const wanted = await post(token, "t", "this one", "wanted");
    await eventually("indexed", () => listener.events.some((e) => e.type === "message.indexed"), 30_000);
    expect((await h.request("DELETE", `/v1/messages/${wanted.body.id}`, { token })).status).toBe(204);
    await eventually("deleted", () => listener.events.some((e) => e.type === "message.deleted"));
    expect(listener.events.map((e) => `${e.type} ${e.conversation_id}`)).toEqual([
      "message.created wanted",
      "message.indexed wanted",
      "message.deleted wanted",
    ]);
    listener.socket.close();
  });

  test("API key by header, and token / api_key query parameters for browsers", async () => {
    const { token } = await h.account();
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "ws", scopes: ["read"] } })).body.key;
    for (const listener of [
      await listen("/ws/messages/q", { "x-api-key": key }),
      await listen(`/ws/messages/q?token=${token}`),
      await listen(`/ws/messages/q?api_key=${key}`),
    ]) {
      const created = await post(token, "q", "hello sockets");
      await eventually("created", () => listener.events.some((e) => e.message.id === created.body.id));
      listener.socket.close();
    }
  });

  test("credentials in Sec-WebSocket-Protocol (browsers): bearer. and apikey. entries; the answer selects memory-mesh", async () => {
    const { token } = await h.account();
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "ws", scopes: ["read"] } })).body.key;
    for (const listener of [await listen("/ws/messages/p", {}, offer("bearer", token)), await listen("/ws/messages/p", {}, offer("apikey", key))]) {
      // Selected even though it was offered second: the entry carrying the credential is never echoed.
      expect(listener.socket.protocol).toBe("memory-mesh");
      const created = await post(token, "p", "hello subprotocols");
      await eventually("created", () => listener.events.some((e) => e.message.id === created.body.id));
      listener.socket.close();
    }
    const answer = await fetch(`http://${base}/ws/messages/p`, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": offer("bearer", token).join(", ") },
    });
    expect({ status: answer.status, protocol: answer.headers.get("sec-websocket-protocol") }).toEqual({ status: 101, protocol: "memory-mesh" });
  });

  test("subprotocol credentials: none, bad, or offered without memory-mesh: 401 (and no subprotocol selected)", async () => {
    const { token } = await h.account();
    const bearer = offer("bearer", token)[0];
    for (const protocols of ["memory-mesh", `memory-mesh, ${offer("bearer", "nope")[0]}`, `memory-mesh, ${offer("apikey", "mm_0000000000000000_xxxxxxxxxxxxxxxxxxxxxxxx")[0]}`, bearer, "memory-mesh, bearer.not+base64url"]) {
      const res = await fetch(`http://${base}/ws/messages/p`, {
        headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": protocols },
      });
      expect({ protocols, status: res.status, selected: res.headers.get("sec-websocket-protocol"), code: (await res.json()).code }).toEqual({ protocols, status: 401, selected: null, code: "unauthorized" });
    }
  });

  test("no or bad credentials: the upgrade is refused with 401; a tenant the key may not read: 403", async () => {
    const { token } = await h.account();
    expect((await upgradeStatus("/ws/messages/x")).status).toBe(401);
    expect((await upgradeStatus("/ws/messages/x", { authorization: "Bearer nope" })).status).toBe(401);
    expect((await upgradeStatus("/ws/messages/x?api_key=mm_0000000000000000_xxxxxxxxxxxxxxxxxxxxxxxx")).status).toBe(401);
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "a-only", tenant_ids: ["a"] } })).body.key;
    const refused = await upgradeStatus("/ws/messages/b", { "x-api-key": key });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).code).toBe("forbidden");
  });

  test("shutdown closes sockets with 1001", async () => {
    const { token } = await h.account();
    const hub = await createRealtime(h.deps);
    const c = createApp(h.deps, hub).listen({ port: 0, hostname: "127.0.0.1" });
    const socket = new WebSocket(`ws://127.0.0.1:${c.server?.port}/ws/messages/z`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
    await new Promise((r) => {
      socket.onopen = r;
    });
    const closed = new Promise<number>((r) => {
      socket.onclose = (e) => r(e.code);
    });
    await hub.close(1001, "server shutting down");
    expect(await closed).toBe(1001);
    await c.stop(true);
  });
});

describe("slow clients", () => {
  test("a client that stops reading is disconnected after a bounded buffer; others keep receiving", async () => {
    const { token, userId } = await h.account();
    const hub = await createRealtime(h.deps);
    const c = createApp({ ...h.deps, config: { ...h.deps.config, WS_MAX_BUFFER_BYTES: 64 * 1024 } }, hub).listen({ port: 0, hostname: "127.0.0.1" });
    const port = c.server?.port as number;
    // A raw client that completes the handshake and then never reads again.
    const slow = await silentWebSocketPeer(port, "/ws/messages/slow", token);
    const fast = new WebSocket(`ws://127.0.0.1:${port}/ws/messages/slow`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
    let fastGot = 0;
    fast.onmessage = () => fastGot++;
    await new Promise((r) => {
      fast.onopen = r;
    });
    expect(hub.connections).toBe(2);
    const message = { id: "x", tenant_id: "slow", conversation_id: "c", role: "user", content: "y".repeat(60_000), importance: 0.5, metadata: null, status: "indexed", created_at: new Date().toISOString(), indexed_at: null, error: null };
    const event = JSON.stringify({ account: userId, event: { type: "message.indexed", tenant_id: "slow", conversation_id: "c", message, ts: new Date().toISOString() } });
    // Publish ~60 KB events for this tenant straight on the channel, as workers do, 20 at a time, each
    // round once the fast client has had every one so far: on until the slow one is dropped, and
    // at least 100 events.
    let published = 0;
    while (published < 100 || (hub.connections === 2 && published < 400)) {
      for (let i = 0; i < 20; i++) await h.deps.redis.spublish(keys.eventsChannelOf(userId), event);
      published += 20;
      await eventually("the fast client keeping up", () => fastGot >= published, 20_000);
    }
    expect(hub.connections).toBe(1);
    // The one dropped is the slow client: the server closed its connection (seen once it reads again).
    slow.socket.resume();
    await eventually("the server to close the slow client's connection", () => slow.closed(), 5_000);
    expect(fast.readyState).toBe(WebSocket.OPEN);
    fast.close();
    slow.socket.destroy();
    await hub.close();
    await c.stop(true);
  }, 60_000);
});
