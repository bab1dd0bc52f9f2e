import { spawn, type Subprocess } from "bun";
import { loadConfig } from "./config";
import { createLogger } from "./log";
import { lockDataDir } from "./store/data-dir-lock";
import { type RedisServer, splitArgs, startRedisServer } from "./store/redis-server";

/**
 * `bun run start`: the embedded default. Starts a private redis-server when REDIS_URL is unset,
 * then the API and one indexing worker as child processes; Ctrl-C stops the children gracefully,
 * then Redis, and leaves nothing behind.
 */
async function start() {
  const log = createLogger("info", { service: "start" });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    log.error({ err: (error as Error).message }, "cannot start");
    process.exit(1);
  }
  let redis: RedisServer | undefined;
  let unlock = () => {};
  if (!config.REDIS_URL) {
    try {
      unlock = lockDataDir(config.REDIS_EMBEDDED_DIR);
      redis = await startRedisServer({
        bin: config.REDIS_SERVER_BIN,
        dir: config.REDIS_EMBEDDED_DIR,
        port: config.REDIS_EMBEDDED_PORT,
        extraArgs: splitArgs(config.REDIS_EMBEDDED_ARGS),
      });
      log.info({ url: redis.url, dir: config.REDIS_EMBEDDED_DIR, pid: redis.pid }, "embedded redis started");
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      unlock();
      process.exit(1);
    }
  }
  const env = { ...process.env, REDIS_URL: redis?.url ?? config.REDIS_URL };
  const root = new URL("..", import.meta.url).pathname;
  const children: Subprocess[] = [
    spawn(["bun", "--max-http-header-size=65536", "run", `${root}src/main.ts`], { env, stdio: ["ignore", "inherit", "inherit"] }),
    spawn(["bun", "run", `${root}workers/indexer.ts`], { env, stdio: ["ignore", "inherit", "inherit"] }),
  ];

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    await Promise.race([Promise.all(children.map((c) => c.exited)), Bun.sleep(config.SHUTDOWN_TIMEOUT_MS + 2000)]);
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await redis?.stop();
    unlock();
    log.info("all stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  for (const child of children) {
    child.exited.then((code) => {
      if (!stopping) {
        log.error({ pid: child.pid, code }, "a child exited; stopping everything");
        void stop(code || 1);
      }
    });
  }
}

await start();
