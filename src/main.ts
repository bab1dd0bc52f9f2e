import http from "node:http";
import { createApp } from "./app";
import { forgetRevoked } from "./auth/revocation";
import { loadConfig } from "./config";
import { closeDeps, createDeps } from "./deps";
import { failStart, onShutdownSignal } from "./lifecycle";
import { createLogger } from "./log";
import { createApiMetrics, serveMetrics } from "./metrics";
import { createRealtime } from "./realtime/hub";

/**
 * Bun's HTTP parser refuses headers past --max-http-header-size (16 KiB by default) with an empty
 * 431 before the app sees them; the API's scripts raise it, so MAX_HEADER_BYTES answers JSON.
 */
function warnOnParserHeaderLimit(limit: number, log: ReturnType<typeof createLogger>): void {
  if (http.maxHeaderSize <= limit) {
    log.warn({ parserLimit: http.maxHeaderSize, MAX_HEADER_BYTES: limit }, "run the API with bun --max-http-header-size above MAX_HEADER_BYTES, or over-long headers get an empty 431");
  }
}

/** API entry: config -> deps -> app.listen -> graceful shutdown. */
async function main() {
  let log = createLogger("info", { service: "api" });
  try {
    const config = loadConfig();
    log = createLogger(config.LOG_LEVEL, { service: "api" });
    const deps = await createDeps(config, { log });
    const realtime = await createRealtime(deps, (revocation) => forgetRevoked(deps, revocation));
    const metrics = createApiMetrics(deps, () => realtime.connections);
    warnOnParserHeaderLimit(config.MAX_HEADER_BYTES, log);
    const app = createApp(deps, realtime, metrics).listen({
      hostname: config.HOST,
      port: config.PORT,
      // Bun answers a body past this limit itself, with an empty 413; the app reads bodies with
      // MAX_BODY_BYTES as it goes and answers JSON, so Bun's limit is kept out of its way.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
    // Metrics on a listener of their own (keep its port on the private network), as workers do.
    const metricsServer = serveMetrics(metrics, config.HOST, config.API_METRICS_PORT, log);
    log.info({ port: app.server?.port, metricsPort: metricsServer?.port, engine: deps.vectors.engine, docs: "/docs" }, "api listening");
    onShutdownSignal(log, config.SHUTDOWN_TIMEOUT_MS, async () => {
      await realtime.close(1001, "server shutting down");
      metricsServer?.stop(true);
      await app.stop();
      await closeDeps(deps);
    });
  } catch (error) {
    failStart(log, error);
  }
}

await main();
