import { loadConfig } from "../src/config";
import { closeDeps, createDeps } from "../src/deps";
import { failStart, onShutdownSignal } from "../src/lifecycle";
import { createLogger } from "../src/log";
import { startIndexingWorker } from "../src/memory/worker";

/** Indexing worker entry: run any number of these, on any number of machines, against one Redis. */
async function main() {
  let log = createLogger("info", { service: "worker" });
  try {
    const config = loadConfig();
    log = createLogger(config.LOG_LEVEL, { service: "worker" });
    const deps = await createDeps(config, { log });
    await deps.embedder.embed(["warm up"]);
    const indexing = startIndexingWorker(deps);
    log.info({ engine: deps.vectors.engine, model: deps.embedder.modelKey, batch: config.EMBED_BATCH_SIZE }, "indexing worker started");
    onShutdownSignal(log, config.SHUTDOWN_TIMEOUT_MS, async () => {
      await indexing.close();
      await closeDeps(deps);
    });
  } catch (error) {
    failStart(log, error);
  }
}

await main();
