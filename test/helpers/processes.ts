import { connect, type Socket } from "node:net";
import type { Subprocess } from "bun";

const root = new URL("../..", import.meta.url).pathname;

/** An indexing worker as a separate process (`bun workers/indexer.ts`) on the given Redis. */
export function spawnWorker(redisUrl: string, env: Record<string, string> = {}): Subprocess {
  return Bun.spawn(["bun", `${root}workers/indexer.ts`], {
    env: { ...process.env, LOG_LEVEL: "error", NODE_ENV: "test", WORKER_METRICS_PORT: "0", ...env, REDIS_URL: redisUrl },
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
