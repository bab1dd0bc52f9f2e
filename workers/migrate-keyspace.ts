import { loadConfig } from "../src/config";
import { createLogger } from "../src/log";
import { configureKeyspace } from "../src/store/keys";
import { migrateKeyspace, rebuildTenantIndexes } from "../src/store/migrate-keyspace";
import { closeRedis, createRedis, mastersOf, waitReady } from "../src/store/redis";

/**
 * Operator command: `bun run migrate-keyspace` moves a single Redis from the layout before shards
 * to the sharded one (README_PRODUCTION, "Redis Cluster"), then builds each tenant's time index and
 * counts by status (README_PRODUCTION, "Upgrading"). Stop the API and workers first; safe to re-run.
 * Prints what it did as JSON.
 */
async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, { service: "migrate-keyspace" });
  configureKeyspace(config.KEY_SHARDS);
  const redis = createRedis(config.REDIS_URL as string, "worker", log, config.REDIS_CLUSTER);
  try {
    await waitReady(redis);
    // A cluster was filled in the sharded layout already; one Redis may still hold the layout before shards.
    const moved = mastersOf(redis).length > 1 ? undefined : await migrateKeyspace(redis, log);
    const indexed = await rebuildTenantIndexes(redis, log);
    process.stdout.write(`${JSON.stringify({ ...moved, ...indexed })}\n`);
  } finally {
    await closeRedis(redis);
  }
}

await main();
