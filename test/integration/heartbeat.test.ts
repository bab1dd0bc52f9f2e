import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { createRealtime } from "../../src/realtime/hub";
import { eventually, useHarness } from "../helpers/app";
import { silentWebSocketPeer } from "../helpers/processes";

const h = useHarness({ WS_HEARTBEAT_MS: "4000" });

describe("WebSocket heartbeats", () => {
  test("an idle client that answers pings stays connected; a dead one (never answers) is dropped", async () => {
    const { token } = await h.account();
    const hub = await createRealtime(h.deps);
    const app = createApp(h.deps, hub).listen({ port: 0, hostname: "127.0.0.1" });
    h.cleanup(async () => {
      await hub.close();
      await app.stop(true);
    });
    const port = app.server?.port as number;
    const alive = new WebSocket(`ws://127.0.0.1:${port}/ws/messages/hb`, { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
    let aliveClosed = false;
    alive.onclose = () => {
      aliveClosed = true;
    };
    await new Promise((r) => {
      alive.onopen = r;
    });
    // A peer that completes the handshake, then reads nothing and answers no ping.
    const dead = await silentWebSocketPeer(port, "/ws/messages/hb", token);
    await eventually("both registered", () => hub.connections === 2);
    const started = Date.now();
    await eventually("one peer dropped", () => hub.connections === 1, 40_000);
    process.stderr.write(`[heartbeat] a peer dropped after ${Date.now() - started} ms\n`);
    // The one dropped is the dead peer: the server closed its connection (seen once it reads again)...
    dead.socket.resume();
    await eventually("the server to close the dead peer's connection", () => dead.closed(), 5_000);
    // ...while the live one, idle as long but answering pings, is still open.
    expect(aliveClosed).toBe(false);
    expect(alive.readyState).toBe(WebSocket.OPEN);
    alive.close();
    dead.socket.destroy();
  }, 60_000);
});
