import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** SHUTDOWN-equivalent: SIGTERM (Redis flushes its AOF), then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export const REDIS_MISSING_HELP = `redis-server was not found. Install one of:
  Debian/Ubuntu:  sudo apt-get install -y redis-server
  macOS:          brew install redis
  Docker:         docker compose up   (runs Redis Stack and the whole service)
or point REDIS_URL at an existing Redis.`;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => res(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export function findRedisServer(bin: string): string | undefined {
  if (bin.includes("/")) return existsSync(bin) ? bin : undefined;
  return Bun.which(bin) ?? undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await Bun.sleep(50);
  }
  return false;
}

async function pings(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a private redis-server on loopback, in its own process group (so a Ctrl-C reaches the
 * service first and Redis is stopped last, by pid). A server left running by a killed previous
 * run in the same data dir is stopped first: callers that share a folder with other instances
 * hold its lock (lockDataDir) before calling this.
 */
export async function startRedisServer(options: {
  bin: string;
  dir: string;
  port?: number;
  appendonly?: boolean;
  extraArgs?: string[];
}): Promise<RedisServer> {
  const bin = findRedisServer(options.bin);
  if (!bin) throw new Error(REDIS_MISSING_HELP);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const pidfile = `${dir}/redis.pid`;
  if (existsSync(pidfile)) {
    const stale = Number(readFileSync(pidfile, "utf8").trim());
    if (stale > 0 && alive(stale)) {
      process.kill(stale, "SIGTERM");
      await waitUntil(() => !alive(stale), 5000);
    }
  }
  const port = options.port || (await freePort());
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--pidfile", pidfile,
    "--appendonly", options.appendonly === false ? "no" : "yes", "--appendfsync", "everysec",
    "--save", "", "--daemonize", "no", "--logfile", `${dir}/redis.log`, "--protected-mode", "yes",
    ...(options.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn(bin, args, { detached: true, stdio: "ignore" });
  child.unref();
  const pid = child.pid as number;
  const up = await waitUntil(async () => !alive(pid) || (await pings(port)), 10_000);
  if (!up || !alive(pid)) {
    const logTail = existsSync(`${dir}/redis.log`) ? readFileSync(`${dir}/redis.log`, "utf8").split("\n").slice(-8).join("\n") : "";
    throw new Error(`redis-server did not start on port ${port}:\n${logTail}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (!alive(pid)) return;
      process.kill(pid, "SIGTERM");
      if (!(await waitUntil(() => !alive(pid), 5000))) process.kill(pid, "SIGKILL");
      await waitUntil(() => !alive(pid), 2000);
    },
  };
}

/** Splits a flag string like `--loadmodule /x/redisearch.so --maxmemory 1gb` into argv, honouring quotes. */
export function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}
