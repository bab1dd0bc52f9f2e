import { loadConfig } from "../src/config";
import { createLogger } from "../src/log";
import { configureKeyspace } from "../src/store/keys";
import { migrateKeyspace } from "../src/store/migrate-keyspace";
import { closeRedis, createRedis, waitReady } from "../src/store/redis";

/**
 * Operator command: `bun run migrate-keyspace` moves a single Redis from the layout before shards
 * to the sharded one (README_PRODUCTION, "Redis Cluster"). Stop the API and workers first; safe to
 * re-run. Prints what it did as JSON.
 */
async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, { service: "migrate-keyspace" });
  configureKeyspace(config.KEY_SHARDS);
  const redis = createRedis(config.REDIS_URL as string, "worker", log, config.REDIS_CLUSTER);
  try {
    await waitReady(redis);
    const report = await migrateKeyspace(redis, log);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await closeRedis(redis);
  }
}

await main();
