import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { closeDeps, createDeps } from "../src/deps";
import { createLogger } from "../src/log";
import { type ReindexMode, reindexTenant } from "../src/memory/reindex";
import { createEmbedder } from "../src/store/embeddings";
import { globEscape, keys } from "../src/store/keys";
import { deleteMatching } from "../src/store/erase";
import { closeRedis, createRedis, scanKeys, waitReady } from "../src/store/redis";

const USAGE = `bun run reindex -- [options]
  --account ID --tenant T   one tenant of one account
  --all                     every tenant of every account
  --mode failed|pending|all what to queue again (default failed; all = re-embed everything)
  --switch-model            adopt the configured embedding model: re-embed every message with it
                            and remove the previous model's vectors (search is partial until done)
Workers do the work: keep at least one running.`;

/** Operator command: queues messages for indexing again (the HTTP twin is POST /v1/memory/reindex). */
async function main() {
  const { values } = parseArgs({
    options: {
      account: { type: "string" },
      tenant: { type: "string" },
      all: { type: "boolean", default: false },
      mode: { type: "string", default: "failed" },
      "switch-model": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const mode = values["switch-model"] ? "all" : (values.mode as ReindexMode);
  if (values.help || !["failed", "pending", "all"].includes(mode) || (!values.all && !values["switch-model"] && !(values.account && values.tenant))) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, { service: "reindex" });
  let previousModel: string | null = null;
  if (values["switch-model"]) {
    const redis = createRedis(config.REDIS_URL as string, "worker", undefined, config.REDIS_CLUSTER);
    await waitReady(redis);
    previousModel = await redis.getset(keys.embeddingModel(), createEmbedder(config).modelKey);
    await closeRedis(redis);
  }
  const deps = await createDeps(config, { log, role: "worker" });
  let targets: { account: string; tenant: string }[] = [];
  if (values.account && values.tenant && !values.all && !values["switch-model"]) {
    targets = [{ account: values.account, tenant: values.tenant }];
  } else {
    // An operator command may walk the key space (SCAN, in small steps); the request path never does.
    for await (const batch of scanKeys(deps.redis, keys.allTenantSets())) {
      for (const key of batch) {
        const account = keys.accountOfTenantSet(key);
        for (const tenant of await deps.redis.smembers(key)) targets.push({ account, tenant });
      }
    }
  }
  let queued = 0;
  for (const { account, tenant } of targets) queued += await reindexTenant(deps, account, tenant, mode);
  if (previousModel && previousModel !== deps.embedder.modelKey) {
    await deps.redis.call("FT.DROPINDEX", keys.vectorIndex(previousModel), "DD").catch(() => undefined);
    await deleteMatching(deps.redis, [`${globEscape(keys.vectorDocPrefix(previousModel))}*`, keys.allExactVectors(previousModel)]);
  }
  log.info({ tenants: targets.length, queued, mode, previousModel }, "reindex queued");
  await closeDeps(deps);
}

await main();
