import { loadConfig } from "../src/config";
import { closeDeps, createDeps, type Deps } from "../src/deps";
import { failStart, onShutdownSignal } from "../src/lifecycle";
import { createLogger } from "../src/log";
import { type IndexingWorker, startIndexingWorker } from "../src/memory/worker";
import { addWebhookQueueGauge, createWorkerMetrics, serveMetrics } from "../src/metrics";

/** Indexing worker entry: run any number of these, on any number of machines, against one Redis. */
async function main() {
  let log = createLogger("info", { service: "worker" });
  let deps: Deps | undefined;
  let indexing: IndexingWorker | undefined;
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  try {
    const config = loadConfig();
    log = createLogger(config.LOG_LEVEL, { service: "worker" });
    // Registered first, so a signal during start-up still closes whatever is open.
    onShutdownSignal(log, config.SHUTDOWN_TIMEOUT_MS, async () => {
      metricsServer?.stop(true);
      await indexing?.close();
      if (deps) await closeDeps(deps);
    });
    deps = await createDeps(config, { log, role: "worker" });
    await deps.embedder.embed(["warm up"]);
    const metrics = createWorkerMetrics();
    addWebhookQueueGauge(metrics, deps);
    indexing = startIndexingWorker(deps, {
      onBatch: ({ size, ms, ok }) => {
        metrics.batchSize.observe(size);
        metrics.batchSeconds.observe(ms / 1000);
        if (!ok) metrics.embedErrors.inc();
      },
      onDelivery: (outcome, seconds) => {
        metrics.webhookAttempts.inc({ outcome });
        metrics.webhookSeconds.observe(seconds);
      },
      onWebhookDisabled: () => metrics.webhooksDisabled.inc(),
    });
    metricsServer = serveMetrics(metrics, config.HOST, config.WORKER_METRICS_PORT, log, indexing.health);
    log.info({ engine: deps.vectors.engine, model: deps.embedder.modelKey, batch: config.EMBED_BATCH_SIZE, metricsPort: metricsServer?.port }, "indexing worker started");
  } catch (error) {
    failStart(log, error);
  }
}

await main();
