import { createApp } from "./app";
import { forgetRevoked } from "./auth/revocation";
import { loadConfig } from "./config";
import { closeDeps, createDeps } from "./deps";
import { failStart, onShutdownSignal } from "./lifecycle";
import { createLogger } from "./log";
import { createApiMetrics, serveMetrics } from "./metrics";
import { createRealtime } from "./realtime/hub";

/** API entry: config -> deps -> app.listen -> graceful shutdown. */
async function main() {
  let log = createLogger("info", { service: "api" });
  try {
    const config = loadConfig();
    log = createLogger(config.LOG_LEVEL, { service: "api" });
    const deps = await createDeps(config, { log });
    const realtime = await createRealtime(config.REDIS_URL as string, log, (revocation) => forgetRevoked(deps, revocation));
    const metrics = createApiMetrics(deps, () => realtime.connections);
    const app = createApp(deps, realtime, metrics).listen({
      hostname: config.HOST,
      port: config.PORT,
      maxRequestBodySize: config.MAX_BODY_BYTES + 1024,
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
