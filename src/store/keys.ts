/**
 * Every Redis key, channel and index name Memory Mesh uses. User-supplied parts (tenant,
 * conversation and message ids) are URI-encoded so `:` inside them can never make two different
 * keys collide. The account id is our own and is part of every data key, which is what keeps
 * accounts apart by construction.
 */
const PLAIN = /^[A-Za-z0-9_.!~*'()-]*$/; // what encodeURIComponent leaves as it is
const enc = (part: string) => {
  if (PLAIN.test(part)) return part; // the common case, on every request: no work to do
  // Schemas refuse lone surrogates already; this keeps a missed one a 400 (see error-response.ts), never a 500.
  if (!part.isWellFormed()) throw new MalformedIdError("Ids must be well-formed Unicode text");
  return encodeURIComponent(part);
};

/** An id that cannot be part of a key (the API answers it as 400). */
export class MalformedIdError extends Error {
  override name = "MalformedIdError";
}

export const PREFIX = "mm:";

/** A literal string as a SCAN / KEYS pattern. */
export const globEscape = (literal: string) => literal.replace(/[*?[\]\\]/g, "\\$&");

/** Redis Cluster's key slot of a hash tag's content: CRC16 (XMODEM) mod 16384. */
export function slotOf(tag: string): number {
  let crc = 0;
  for (const byte of new TextEncoder().encode(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * The keyspace is cut into KEY_SHARDS shards, fixed at deployment. An account belongs to one shard
 * (a hash of its id), and every key its writes touch together (messages, conversations, vectors,
 * rate counters, and the shard's outbox, dispatch list, stats and queue) carries the shard's hash
 * tag, so each script and transaction stays in one cluster slot. Shard k's tag is chosen to land
 * in the k-th of KEY_SHARDS equal slot ranges, so shards spread over masters that split the slots
 * evenly (as `redis-cli --cluster create` does). On a single Redis the same keys simply coexist.
 */
let shardTags: string[] = [];

function tagsFor(shards: number): string[] {
  const tags: string[] = [];
  for (let k = 0; k < shards; k++) {
    const low = Math.floor((k * 16384) / shards);
    const high = Math.floor(((k + 1) * 16384) / shards);
    for (let j = 0; ; j++) {
      const tag = `s${k}.${j}`;
      const slot = slotOf(tag);
      if (slot >= low && slot < high) {
        tags.push(tag);
        break;
      }
    }
  }
  return tags;
}

/** Sets the shard count (KEY_SHARDS; createDeps does it). Every process of a deployment must agree. */
export function configureKeyspace(shards: number): void {
  if (shards !== shardTags.length) shardTags = tagsFor(shards);
}
configureKeyspace(16);

export const shardCount = () => shardTags.length;
/** Every shard number, for work that covers them all (dispatchers, sweepers, metrics, subscribers). */
export const allShards = () => shardTags.map((_, k) => k);

/** FNV-1a of the account id: the shard an account's keys live in. */
export function shardOf(account: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < account.length; i++) hash = Math.imul(hash ^ account.charCodeAt(i), 0x01000193) >>> 0;
  return hash % shardTags.length;
}

/** `mm:{tag}` of a shard, the start of its keys. */
const shard = (k: number) => `mm:{${shardTags[k]}}`;
const of = (account: string) => shard(shardOf(account));
/** Keys of one user-chosen thing (an email, an address) in a slot of their own. */
const own = (kind: string, value: string) => `mm:{${kind}:${enc(value)}}`;
/** Auth records (users, their name and email indexes, API keys) share one slot, so registering is one script. */
const AUTH = "mm:{auth}";

export const keys = {
  user: (userId: string) => `${AUTH}:user:${userId}`,
  userByEmail: (email: string) => `${AUTH}:user-email:${enc(email.toLowerCase())}`,
  userByName: (username: string) => `${AUTH}:user-name:${enc(username.toLowerCase())}`,
  userApiKeys: (userId: string) => `${AUTH}:user-keys:${userId}`,
  apiKey: (keyId: string) => `${AUTH}:api-key:${keyId}`,
  /** A refresh token and its family share the family's slot (the family id is part of the token id). */
  refreshToken: (familyId: string, tokenId: string) => `mm:{rf:${familyId}}:refresh:${tokenId}`,
  refreshFamily: (familyId: string) => `mm:{rf:${familyId}}:refresh-family`,
  /** HASH {failures, until}: wrong passwords for an email from one address, and the backoff they earned. */
  loginFailures: (email: string, address: string) => `${own("e", email.trim().toLowerCase())}:login-fail:${enc(address)}`,
  /** `mm:{tag}` of an account's shard: the start of every key of its data. */
  accountTag: (account: string) => of(account),
  /** The hash tag rate counters of an account's credentials share with its data (charged in the same scripts). */
  accountRateTag: (account: string) => of(account),
  /** The tag of counters about an email, or a client address. */
  emailRateTag: (email: string) => own("e", email.trim().toLowerCase()),
  addressRateTag: (address: string) => own("ip", address),
  rateLimit: (tag: string, bucket: string, window: number) => `${tag}:rate:${bucket}:${window}`,
  /** SCAN pattern of every window of a rate bucket. */
  rateLimitWindows: (tag: string, bucket: string) => `${globEscape(`${tag}:rate:${bucket}:`)}*`,

  message: (account: string, messageId: string) => `${of(account)}:msg:${account}:${enc(messageId)}`,
  tenants: (account: string) => `${of(account)}:tenants:${account}`,
  /** SCAN pattern of every account's tenant set, and the account a match belongs to. */
  allTenantSets: () => "mm:{*}:tenants:*",
  accountOfTenantSet: (key: string) => key.slice(key.indexOf(":tenants:") + ":tenants:".length),
  conversation: (account: string, tenant: string, conversation: string) =>
    `${of(account)}:conv:${account}:${enc(tenant)}:${enc(conversation)}`,
  /** ZSET of a tenant's conversation ids scored by last activity (ms). */
  conversations: (account: string, tenant: string) => `${of(account)}:convs:${account}:${enc(tenant)}`,
  /** SET of the tenants in which an account uses a conversation id. */
  conversationTenants: (account: string, conversation: string) => `${of(account)}:conv-tenants:${account}:${enc(conversation)}`,
  /** ZSET of a conversation's message ids in order. */
  conversationMessages: (account: string, tenant: string, conversation: string) =>
    `${of(account)}:conv-msgs:${account}:${enc(tenant)}:${enc(conversation)}`,
  /**
   * ZSET of a tenant's message ids, scored as in their conversation (created ms * 1000 + order in
   * the request): the time index that lists, deletes by filter, retention, export and erase walk.
   */
  tenantMessages: (account: string, tenant: string) => `${of(account)}:tmsgs:${account}:${enc(tenant)}`,
  /** HASH of a tenant's message counts by status (pending, indexed, failed). */
  tenantStats: (account: string, tenant: string) => `${of(account)}:tstats:${account}:${enc(tenant)}`,
  /** HASH of a tenant's retention policy: retention_days, updated_at. */
  tenantPolicy: (account: string, tenant: string) => `${of(account)}:policy:${account}:${enc(tenant)}`,
  /** SET of a shard's tenants with a retention policy, as `account:tenant` (see tenantMember). */
  retentionTenants: (shardNo: number) => `${shard(shardNo)}:retention`,
  retentionTenantsOf: (account: string) => `${of(account)}:retention`,
  /** ZSET of a shard's messages with an expiry, as `account:messageId`, scored by when they expire (ms). */
  expiries: (shardNo: number) => `${shard(shardNo)}:expiries`,
  expiriesOf: (account: string) => `${of(account)}:expiries`,
  /** STRING held (briefly) by the one worker sweeping a shard's expired messages. */
  expiryLock: (shardNo: number) => `${shard(shardNo)}:expiry-lock`,
  /** HASH of a data job (delete by filter, tenant erase): its request, progress and outcome. */
  dataJob: (account: string, jobId: string) => `${of(account)}:job:${account}:${jobId}`,
  /** A tenant's running reindex (JSON: when it started, its job ids), so only one runs at a time. */
  reindexClaim: (account: string, tenant: string) => `${of(account)}:reindex:${account}:${enc(tenant)}`,
  /** ZSET of a shard's `account:messageId` accepted but not yet indexed or failed, scored by accept time. */
  outbox: (shardNo: number) => `${shard(shardNo)}:outbox`,
  /** The outbox of an account's shard. */
  outboxOf: (account: string) => `${of(account)}:outbox`,
  /** STRING held (with a short expiry) by the one worker sweeping a shard's outbox. */
  outboxLock: (shardNo: number) => `${shard(shardNo)}:outbox-lock`,
  /** LIST of a shard's `account:messageId` accepted and not yet turned into a job by a worker's dispatcher. */
  dispatch: (shardNo: number) => `${shard(shardNo)}:dispatch`,
  dispatchOf: (account: string) => `${of(account)}:dispatch`,
  /** HASH of a shard's counters: accepted, indexed, failed (metrics.ts sums the shards). */
  stats: (shardNo: number) => `${shard(shardNo)}:stats`,
  statsOf: (account: string) => `${of(account)}:stats`,

  /** The embedding model the stored vectors belong to. */
  embeddingModel: () => "mm:embedding-model",
  vectorIndex: (model: string) => `mm:idx:${model}`,
  /** A throwaway index (and its prefix) to probe for vector support. */
  probeIndex: () => `mm:probe:${crypto.randomUUID()}`,
  vectorDocPrefix: (model: string) => `mm:vec:${model}:`,
  vectorDoc: (model: string, account: string, tenant: string, messageId: string) =>
    `mm:vec:${model}:{${shardTags[shardOf(account)]}}:${account}:${enc(tenant)}:${enc(messageId)}`,
  /** Exact engine: one HASH per tenant, field = message id, value = packed filters + vector. */
  exactVectors: (model: string, account: string, tenant: string) => `${of(account)}:vecx:${model}:${account}:${enc(tenant)}`,
  /** SCAN pattern of every exact-engine vector hash of a model. */
  allExactVectors: (model: string) => `mm:{*}:vecx:${globEscape(model)}:*`,

  /**
   * SCAN patterns that together match every data key of an account: messages, conversations and
   * vectors of `model` (the account id is ours, so no other account's key can match).
   */
  accountDataPatterns: (account: string, model: string) => {
    const at = globEscape(of(account));
    return [
      `${at}:msg:${account}:*`,
      `${at}:tenants:${account}`,
      `${at}:conv:${account}:*`,
      `${at}:convs:${account}:*`,
      `${at}:conv-tenants:${account}:*`,
      `${at}:conv-msgs:${account}:*`,
      `${at}:reindex:${account}:*`,
      `${at}:tmsgs:${account}:*`,
      `${at}:tstats:${account}:*`,
      `${at}:policy:${account}:*`,
      `${at}:job:${account}:*`,
      `${at}:webhooks:${account}`,
      `${at}:webhook:${account}:*`,
      `${at}:delivery:${account}:*`,
      `${at}:deliveries:${account}:*`,
      `${globEscape(`mm:vec:${model}:{${shardTags[shardOf(account)]}}:${account}:`)}*`,
      `${at}:vecx:${globEscape(model)}:${account}:*`,
    ];
  },

  /** SCAN patterns of every key named after one tenant of an account (erasing it checks none is left). */
  tenantDataPatterns: (account: string, tenant: string, model: string) => {
    const at = globEscape(of(account));
    const t = globEscape(enc(tenant));
    return [
      ...["conv", "conv-msgs"].map((kind) => `${at}:${kind}:${account}:${t}:*`),
      ...["convs", "reindex", "tmsgs", "tstats", "policy"].map((kind) => `${at}:${kind}:${account}:${t}`),
      `${globEscape(`mm:vec:${model}:{${shardTags[shardOf(account)]}}:${account}:`)}${t}:*`,
      `${at}:vecx:${globEscape(model)}:${account}:${t}`,
    ];
  },

  /** STREAM of a shard's events of accounts with webhooks (see EMIT_LUA), read by the workers' webhook dispatchers. */
  eventLog: (shardNo: number) => `${shard(shardNo)}:event-log`,
  eventLogOf: (account: string) => `${of(account)}:event-log`,
  /** Sharded channel that tells workers a shard's event log has new entries (EMIT_LUA publishes `<log>:wake`). */
  eventLogWake: (shardNo: number) => `${shard(shardNo)}:event-log:wake`,
  /** SET of an account's webhook ids; its existence is what makes the account's events logged. */
  webhooks: (account: string) => `${of(account)}:webhooks:${account}`,
  /** HASH of a webhook: url, events, tenants, enabled, encrypted secrets, consecutive failures. */
  webhook: (account: string, webhookId: string) => `${of(account)}:webhook:${account}:${webhookId}`,
  /** HASH of one delivery of an event to a webhook (its log entry), and a webhook's deliveries by time (ZSET). */
  webhookDelivery: (account: string, webhookId: string, eventId: string) => `${of(account)}:delivery:${account}:${webhookId}:${eventId}`,
  webhookDeliveries: (account: string, webhookId: string) => `${of(account)}:deliveries:${account}:${webhookId}`,

  /** A shard's sharded pub/sub channel (SPUBLISH) for message events of its accounts. */
  eventsChannel: (shardNo: number) => `${shard(shardNo)}:events`,
  eventsChannelOf: (account: string) => `${of(account)}:events`,
  /** Credentials revoked (API keys, deleted accounts), so every API instance forgets them at once. */
  authChannel: () => "mm:auth-revoked",
  /** BullMQ's prefix of a shard's queue: its keys live under `mm:{tag}:bull:`, in the shard's slot. */
  bullPrefix: (shardNo: number) => `${shard(shardNo)}:bull`,
} as const;

export const QUEUE_INDEX = "INDEX_MESSAGES";
/** Each shard's queue of webhook deliveries (its own, so slow receivers never hold up indexing). */
export const QUEUE_WEBHOOKS = "DELIVER_WEBHOOKS";

/** Outbox members pair the account with the message id. */
export const outboxMember = (account: string, messageId: string) => `${account}:${enc(messageId)}`;
/** Members of the per-shard retention set pair the account with the tenant. */
export const tenantMember = (account: string, tenant: string) => `${account}:${enc(tenant)}`;
export function parseTenantMember(member: string): { account: string; tenant: string } {
  const { account, messageId } = parseOutboxMember(member);
  return { account, tenant: messageId };
}

export function parseOutboxMember(member: string): { account: string; messageId: string } {
  const at = member.indexOf(":");
  return { account: member.slice(0, at), messageId: decodeURIComponent(member.slice(at + 1)) };
}
