import { type Static, t } from "elysia";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/** Default JWT secret for development only; production refuses to start with it. */
export const DEV_JWT_SECRET = "memory-mesh-development-secret-do-not-use-in-production";

// TypeBox's own Integer/Boolean (Elysia's `t` versions also accept strings, which would let
// "64" through unconverted); Value.Convert turns the environment's strings into them.
const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });

/**
 * Every setting Memory Mesh reads, with its default. This schema is the only place that reads the
 * environment; `.env.example` and the README's configuration table mirror it.
 */
export const ConfigSchema = t.Object({
  NODE_ENV: t.Union([t.Literal("development"), t.Literal("production"), t.Literal("test")], {
    default: "development",
  }),
  HOST: t.String({ default: "0.0.0.0", description: "Interface the API listens on" }),
  PORT: Int(8000, 0, 65535, "HTTP port of the API"),
  LOG_LEVEL: t.Union(
    [t.Literal("debug"), t.Literal("info"), t.Literal("warn"), t.Literal("error"), t.Literal("silent")],
    { default: "info" },
  ),
  REDIS_URL: t.Optional(t.String({ description: "Redis to use; unset = `bun run start` runs its own" })),
  REDIS_CLUSTER: Type.Boolean({ default: false, description: "REDIS_URL names a Redis Cluster: one or more seed nodes, comma-separated" }),
  KEY_SHARDS: Int(16, 1, 1024, "Shards of the keyspace (hash-tag slots; fixed at deployment, the same for every process): at least 4 per cluster master you may grow to"),
  REDIS_WAIT_REPLICAS: Int(0, 0, 16, "Replicas that must hold accepted messages before the 202 (Redis WAIT; 0 = the master alone)"),
  REDIS_WAIT_TIMEOUT_MS: Int(1000, 10, 60_000, "Longest wait for REDIS_WAIT_REPLICAS; past it the answer is 503 not_replicated (retry with the same ids)"),
  REDIS_SERVER_BIN: t.String({ default: "redis-server", description: "Binary for the embedded Redis" }),
  REDIS_EMBEDDED_PORT: Int(0, 0, 65535, "Port of the embedded Redis (0 = a free port)"),
  REDIS_EMBEDDED_DIR: t.String({ default: "./.data/redis", description: "Data dir of the embedded Redis" }),
  REDIS_EMBEDDED_ARGS: t.String({ default: "", description: "Extra flags, e.g. --loadmodule /path/redisearch.so" }),
  JWT_SECRET: t.String({ default: DEV_JWT_SECRET, minLength: 1 }),
  ACCESS_TOKEN_TTL_S: Int(900, 30, 86_400, "Access token lifetime"),
  REFRESH_TOKEN_TTL_S: Int(30 * 86_400, 300, 365 * 86_400, "Refresh token lifetime"),
  CORS_ORIGINS: t.String({ default: "*", description: "Comma-separated allowed origins, or *" }),
  TRUST_PROXY: Type.Boolean({ default: false, description: "Take the client address from X-Forwarded-For, as appended by your proxies" }),
  TRUST_PROXY_HOPS: Int(1, 1, 10, "Proxies of yours in front of the API: the client address is this many entries from the right of X-Forwarded-For"),
  MAX_BODY_BYTES: Int(16 * 1024 * 1024, 1024, 256 * 1024 * 1024, "Largest request body"),
  MAX_IMPORT_BYTES: Int(1024 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024, "Largest import body (NDJSON, after gzip decompression), read as a stream: 100,000 messages with vectors are ~350 MB"),
  MAX_HEADER_BYTES: Int(16_384, 1024, 1_048_576, "Largest request header section; larger is 431 (run the API with a bigger --max-http-header-size, as its scripts do, so Bun's parser lets it through)"),
  MAX_CONTENT_CHARS: Int(32_000, 1, 1_000_000, "Longest message content"),
  MAX_METADATA_BYTES: Int(16_384, 2, 1_048_576, "Largest metadata object, as JSON"),
  MAX_BATCH_MESSAGES: Int(1000, 1, 1000, "Most messages in one batch request"),
  RATE_LIMIT_REQUESTS: Int(1200, 1, 10_000_000, "Requests per window per credential"),
  RATE_LIMIT_WINDOW_S: Int(60, 1, 86_400, "Rate limit window"),
  ACCOUNT_RATE_LIMIT_REQUESTS: Int(6000, 1, 100_000_000, "Requests per window per account, all its credentials together"),
  RATE_LIMIT_BATCH_UNIT: Int(50, 1, 10_000, "A batch costs 1 + floor(messages / this) requests"),
  API_KEY_CACHE_MS: Int(2000, 0, 60_000, "How long an API instance trusts a verified API key without asking Redis (0 = always ask)"),
  MAX_API_KEYS_PER_USER: Int(25, 1, 10_000, "API keys one account may hold at once (each has its own rate budget)"),
  AUTH_RATE_LIMIT: Int(20, 1, 1_000_000, "Login/register attempts per window per client address"),
  AUTH_EMAIL_RATE_LIMIT: Int(200, 1, 1_000_000, "Wrong passwords per window per email, from all addresses together (loose: against guessing spread over many addresses; the owner's sign-ins do not count)"),
  AUTH_RATE_WINDOW_S: Int(300, 1, 86_400, "Window of the login/register limits"),
  AUTH_LOGIN_FREE_FAILURES: Int(5, 0, 1000, "Wrong passwords in a row for one email from one address before each further one doubles the wait (1 s, 2 s, 4 s...)"),
  AUTH_LOGIN_BACKOFF_MAX_S: Int(900, 1, 86_400, "Longest wait between login attempts for one email from one address"),
  EMBEDDING_PROVIDER: t.Union([t.Literal("local"), t.Literal("openai")], { default: "local" }),
  EMBEDDING_MODEL: t.String({ default: "use-lite", description: "Model id (openai: sent to the API)" }),
  EMBEDDING_DIMENSIONS: Int(512, 1, 8192, "Vector dimension (openai: requested and checked)"),
  OPENAI_BASE_URL: t.String({ default: "https://api.openai.com/v1" }),
  OPENAI_API_KEY: t.String({ default: "" }),
  EMBED_TIMEOUT_MS: Int(30_000, 100, 600_000, "Timeout of one embedding call"),
  EMBED_BATCH_SIZE: Int(64, 1, 2048, "Most messages per embedder call"),
  EMBED_BATCH_WAIT_MS: Int(50, 0, 60_000, "Longest wait to fill a batch"),
  EMBED_CONTEXT_TURNS: Int(0, 0, 10, "Earlier turns of its conversation embedded with a message (0 = the message alone)"),
  EMBED_MAX_ATTEMPTS: Int(12, 1, 100, "Attempts before a message is marked failed"),
  EMBED_BACKOFF_MS: Int(1000, 1, 3_600_000, "First retry delay (doubles each attempt)"),
  EMBED_BACKOFF_MAX_MS: Int(60_000, 1, 86_400_000, "Cap of the retry delay"),
  QUERY_CACHE_SIZE: Int(1000, 0, 1_000_000, "Query embeddings kept in memory per API process"),
  VECTOR_ENGINE: t.Union([t.Literal("auto"), t.Literal("query-engine"), t.Literal("exact")], { default: "auto" }),
  HNSW_M: Int(16, 2, 512, "HNSW M"),
  HNSW_EF_CONSTRUCTION: Int(200, 1, 4096, "HNSW EF_CONSTRUCTION"),
  HNSW_EF_RUNTIME: Int(100, 1, 4096, "HNSW EF_RUNTIME used by searches"),
  SEARCH_TIMEOUT_MS: Int(2000, 10, 60_000, "Query Engine timeout per search (a timeout is an error)"),
  SEARCH_CANDIDATES: Int(50, 10, 1000, "How deep each ranked list (semantic, keyword) is read before fusion (at least 4 x top_k)"),
  SEARCH_RRF_K: Int(60, 1, 10_000, "k of Reciprocal Rank Fusion: 1 / (k + rank)"),
  SEARCH_SEMANTIC_WEIGHT: Type.Number({ default: 1, minimum: 0, maximum: 100, description: "Weight of the semantic list in hybrid fusion" }),
  SEARCH_KEYWORD_WEIGHT: Type.Number({ default: 6, minimum: 0, maximum: 100, description: "Weight of the keyword (BM25) list in hybrid fusion, times each hit's coverage squared" }),
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false, description: "Allow webhook URLs that resolve to private, loopback or link-local addresses (tests, local development)" }),
  WEBHOOK_SECRET_KEY: t.String({ default: "", description: "Key (32 bytes, base64 or hex) that encrypts webhook signing secrets in Redis; empty = derived from JWT_SECRET" }),
  WEBHOOK_TIMEOUT_MS: Int(15_000, 100, 120_000, "Longest wait for a webhook receiver's answer"),
  WEBHOOK_RETRY_SCHEDULE_MS: t.String({
    default: "5000,30000,120000,600000,1800000,3600000,7200000,14400000,28800000",
    pattern: "^\\d+(,\\d+)*$",
    description: "Delays before each retry of a failed delivery (ms, comma-separated; each +/-20 % jitter; a longer Retry-After wins); default ~16 h in all",
  }),
  WEBHOOK_DISABLE_AFTER_FAILURES: Int(5, 1, 100_000, "Deliveries in a row that fail after every retry, after which an endpoint is disabled (webhook.disabled goes to the account's other endpoints)"),
  WEBHOOK_LOG_RETENTION_S: Int(7 * 86_400, 60, 90 * 86_400, "How long the delivery log keeps a delivery"),
  WEBHOOK_SECRET_GRACE_S: Int(86_400, 0, 30 * 86_400, "After a secret rotation, how long deliveries are also signed with the previous secret"),
  WEBHOOK_CONCURRENCY: Int(32, 1, 10_000, "Webhook deliveries in flight per worker process"),
  MAX_WEBHOOKS_PER_ACCOUNT: Int(20, 1, 1000, "Webhook endpoints one account may have"),
  WORKER_CONCURRENCY: Int(0, 0, 10_000, "Jobs held at once per worker (0 = 2 x EMBED_BATCH_SIZE)"),
  JOB_LOCK_MS: Int(10_000, 1000, 600_000, "BullMQ lock; a killed worker's jobs return after ~lock + stalled interval"),
  STALLED_INTERVAL_MS: Int(5000, 500, 600_000, "BullMQ stalled-job check interval"),
  OUTBOX_REDRIVE_MS: Int(15_000, 1000, 3_600_000, "Age after which a message whose job is gone is queued again"),
  WS_HEARTBEAT_MS: Int(30_000, 1000, 600_000, "WebSocket ping interval; a socket silent for two is closed"),
  WS_MAX_BUFFER_BYTES: Int(1_048_576, 1024, 1_073_741_824, "Unsent bytes after which a slow socket is closed"),
  WORKER_METRICS_PORT: Int(9091, 0, 65535, "Port of a worker's /metrics and /health (0 = off)"),
  API_METRICS_PORT: Int(9090, 0, 65535, "Port of the API's /metrics on a listener of its own, for a private network (0 = off)"),
  METRICS_TOKEN: t.String({ default: "", description: "Bearer token that opens GET /metrics on the public API port too (empty = not served there)" }),
  SHUTDOWN_TIMEOUT_MS: Int(15_000, 100, 600_000, "Longest graceful shutdown"),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/**
 * Reads and validates the configuration. Unknown variables are ignored; a bad value throws a
 * ConfigError naming the variable, and production refuses a default or short JWT secret.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.path.replace(/^\//, "") || "(config)";
      const choices = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((c) => c.const);
      const why = choices ? `expected one of ${choices.join(", ")}` : e.message;
      return `${name}=${JSON.stringify(raw[name] ?? null)}: ${why}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${[...new Set(lines)].join("\n  ")}`);
  }
  const config = withDefaults as Config;
  if (config.NODE_ENV === "production" && (config.JWT_SECRET === DEV_JWT_SECRET || config.JWT_SECRET.length < 32)) {
    throw new ConfigError("JWT_SECRET: production needs a secret of at least 32 characters (not the default)");
  }
  return config;
}
