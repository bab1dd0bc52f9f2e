import { connect, type Socket } from "node:net";
import type { Subprocess } from "bun";
import type { Envelope, MessageEvent } from "../../src/events/model";
import { allShards, keys } from "../../src/store/keys";
import { createRedis } from "../../src/store/redis";
import { onCluster, serverEnv } from "./redis";

const root = new URL("../..", import.meta.url).pathname;

/** An indexing worker as a separate process (`bun workers/indexer.ts`) on the given Redis. */
export function spawnWorker(redisUrl: string, env: Record<string, string> = {}): Subprocess {
  return Bun.spawn(["bun", `${root}workers/indexer.ts`], {
    env: { ...process.env, LOG_LEVEL: "error", NODE_ENV: "test", WORKER_METRICS_PORT: "0", ...serverEnv(), ...env, REDIS_URL: redisUrl },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/**
 * A WebSocket peer that completes the handshake and then never reads again (a slow or dead
 * client). `closed()` tells whether the server has dropped it.
 */
export async function silentWebSocketPeer(port: number, path: string, token: string): Promise<{ socket: Socket; closed(): boolean }> {
  const socket = connect(port, "127.0.0.1");
  let closed = false;
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => {
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    socket.once("data", () => {
      socket.pause();
      resolve();
    });
  });
  return { socket, closed: () => closed };
}

/** Counts `message.indexed` events per message id, as any subscriber would see them; `close` unsubscribes. */
export async function countIndexedEvents(redisUrl: string): Promise<{ counts: Map<string, number>; close(): Promise<unknown> }> {
  const counts = new Map<string, number>();
  return {
    counts,
    close: await subscribeEvents(redisUrl, ({ event }) => {
      if (event.type === "message.indexed") counts.set(event.message.id, (counts.get(event.message.id) ?? 0) + 1);
    }),
  };
}

/** Hears every message event on every shard's channel, as an API instance does; returns the unsubscribe. */
export async function subscribeEvents(redisUrl: string, onEvent: (envelope: Envelope) => void): Promise<() => Promise<unknown>> {
  const subscriber = createRedis(redisUrl, "subscriber", undefined, onCluster());
  subscriber.on("smessage", (_channel: string, raw: string) => onEvent(JSON.parse(raw) as Envelope));
  for (const k of allShards()) await subscriber.ssubscribe(keys.eventsChannel(k));
  return () => subscriber.quit();
}

/** A WebSocket client that records the events it receives and how it was closed. */
export interface Listener {
  events: MessageEvent[];
  closed?: { code: number; reason: string };
  socket: WebSocket;
}

/** Opens `ws://{base}{path}` with these headers (Bun's WebSocket takes them) and subprotocols, and resolves once open. */
export async function listen(base: string, path: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<Listener> {
  const socket = new WebSocket(`ws://${base}${path}`, { headers, protocols } as unknown as string[]);
  const listener: Listener = { events: [], socket };
  socket.onmessage = (e) => listener.events.push(JSON.parse(String(e.data)));
  socket.onclose = (e) => {
    listener.closed = { code: e.code, reason: e.reason };
  };
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("socket failed to open"));
  });
  return listener;
}
