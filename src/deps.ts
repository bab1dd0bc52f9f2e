import type { Queue } from "bullmq";
import { type ApiKeyCache, createApiKeyCache } from "./auth/api-keys";
import { createTokens, type Tokens } from "./auth/tokens";
import type { RedisClient } from "./store/redis";
import { type Config, ConfigError } from "./config";
import { createLogger, type Logger } from "./log";
import { createEmbedder, type Embedder } from "./store/embeddings";
import { configureKeyspace, keys } from "./store/keys";
import { createIndexQueues, createWebhookQueues, type DeliveryJobData, type ShardJobData } from "./store/queue";
import { closeRedis, createRedis, type RedisRole, waitReady } from "./store/redis";
import { createVectorIndex, type VectorEngine, type VectorIndex } from "./store/vector-index";
import { detectVectorSupport } from "./store/vector-support";

/** Everything a request handler or job processor needs; built once per process by `createDeps`. */
export interface Deps {
  config: Config;
  log: Logger;
  /** this process's main connection: fails fast while Redis is away in the API (request role), waits in workers */
  redis: RedisClient;
  /** Opens another connection of a role (a BullMQ worker's, a blocking reader's, a subscriber's); closeDeps closes it. */
  connect(role: RedisRole): RedisClient;
  /** the indexing queue of each shard (queueOf picks an account's) */
  queues: Queue<ShardJobData>[];
  /** the webhook delivery queue of each shard */
  webhookQueues: Queue<DeliveryJobData>[];
  embedder: Embedder;
  vectors: VectorIndex;
  tokens: Tokens;
  /** API keys verified recently (this process); see createApiKeyCache */
  apiKeys: ApiKeyCache;
}

export interface DepsOptions {
  log?: Logger;
  /** `api` (default): the main connection fails fast, for 503s at once; `worker`: it waits for Redis. */
  role?: "api" | "worker";
  embedder?: Embedder;
  /** How long to wait for Redis at start. */
  readyTimeoutMs?: number;
}

/**
 * The composition root. Connects to Redis, picks the vector engine, checks that stored vectors
 * belong to the configured model (refusing to start otherwise), and creates the index if missing.
 */
export async function createDeps(config: Config, options: DepsOptions = {}): Promise<Deps> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  if (!config.REDIS_URL) throw new ConfigError("REDIS_URL: not set (bun run start sets it for its embedded Redis)");
  const redisUrl = config.REDIS_URL;
  configureKeyspace(config.KEY_SHARDS);
  const redis = createRedis(redisUrl, options.role === "worker" ? "worker" : "request", log, config.REDIS_CLUSTER);
  const opened: RedisClient[] = [];
  const connect = (role: RedisRole) => {
    const client = createRedis(redisUrl, role, log, config.REDIS_CLUSTER);
    opened.push(client);
    return client;
  };
  try {
    await waitReady(redis, options.readyTimeoutMs ?? 15_000);
    const embedder = options.embedder ?? createEmbedder(config, log);
    await claimEmbeddingModel(redis, embedder.modelKey);
    const engine = await chooseEngine(redis, config);
    const vectors = createVectorIndex(redis, engine, embedder, config, log);
    await vectors.ensure();
    const queues = createIndexQueues(redis);
    const webhookQueues = createWebhookQueues(redis);
    log.info({ engine, index: vectors.name, model: embedder.modelKey }, "vector engine ready");
    openedBy.set(connect, opened);
    return { config, log, redis, connect, queues, webhookQueues, embedder, vectors, tokens: createTokens(config), apiKeys: createApiKeyCache(config.API_KEY_CACHE_MS) };
  } catch (error) {
    await closeRedis(redis);
    throw error;
  }
}

/** The connections each deps' `connect` opened (keyed by the function, which survives `{ ...deps }`). */
const openedBy = new WeakMap<Deps["connect"], RedisClient[]>();

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.embedder.close?.();
  // Bounded: a queue whose node went away (a failover) may never confirm.
  await Promise.all([...deps.queues, ...deps.webhookQueues].map((q) => Promise.race([q.close().catch(() => undefined), Bun.sleep(1000)])));
  for (const client of openedBy.get(deps.connect) ?? []) await closeRedis(client);
  await closeRedis(deps.redis);
}

async function chooseEngine(redis: RedisClient, config: Config): Promise<VectorEngine> {
  if (config.VECTOR_ENGINE === "exact") return "exact";
  const supported = await detectVectorSupport(redis);
  if (supported) return "query-engine";
  if (config.VECTOR_ENGINE === "query-engine")
    throw new ConfigError("VECTOR_ENGINE=query-engine but this Redis has no vector search (use Redis Stack or Redis 8)");
  return "exact";
}

/**
 * The first process to start records which model the vectors are made by; a later process with
 * another model refuses to start instead of mixing vectors from two models.
 */
async function claimEmbeddingModel(redis: RedisClient, modelKey: string): Promise<void> {
  await redis.set(keys.embeddingModel(), modelKey, "NX");
  const stored = await redis.get(keys.embeddingModel());
  if (stored !== modelKey) {
    throw new ConfigError(
      `EMBEDDING_MODEL: stored vectors were made by "${stored}" but the configured model is "${modelKey}". ` +
        `Re-embed everything with the new model: bun run reindex --switch-model (or set the old model back).`,
    );
  }
}
