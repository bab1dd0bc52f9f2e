import type { Logger } from "./log";

/**
 * Runs `shutdown` once on SIGINT/SIGTERM, then exits 0 (1 if it failed or took longer than
 * `timeoutMs`). A second signal (2 s or more later) exits at once.
 */
export function onShutdownSignal(log: Logger, timeoutMs: number, shutdown: () => Promise<void>): void {
  let stoppingSince = 0;
  const handler = (signal: string) => {
    if (stoppingSince) {
      // Ctrl-C reaches the whole process group and `bun run start` forwards SIGTERM too:
      // only a later, deliberate second signal forces the exit.
      if (Date.now() - stoppingSince < 2000) return;
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, "shutdown took too long; exiting");
      process.exit(1);
    }, timeoutMs);
    shutdown().then(
      () => {
        clearTimeout(timer);
        log.info("stopped");
        process.exit(0);
      },
      (error) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
}

/** Prints a start-up failure (config, Redis, model mismatch) as one log line and exits 1. */
export function failStart(log: Logger, error: unknown): never {
  log.error({ err: (error as Error).message }, "cannot start");
  process.exit(1);
}
