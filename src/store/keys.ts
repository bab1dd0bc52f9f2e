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

export const keys = {
  user: (userId: string) => `mm:user:${userId}`,
  userByEmail: (email: string) => `mm:user-email:${enc(email.toLowerCase())}`,
  userByName: (username: string) => `mm:user-name:${enc(username.toLowerCase())}`,
  userApiKeys: (userId: string) => `mm:user-keys:${userId}`,
  apiKey: (keyId: string) => `mm:api-key:${keyId}`,
  refreshToken: (tokenId: string) => `mm:refresh:${tokenId}`,
  refreshFamily: (familyId: string) => `mm:refresh-family:${familyId}`,
  /** HASH {failures, until}: wrong passwords for an email from one address, and the backoff they earned. */
  loginFailures: (email: string, address: string) => `mm:login-fail:${enc(email.trim().toLowerCase())}:${enc(address)}`,
  rateLimit: (bucket: string, window: number) => `mm:rate:${bucket}:${window}`,
  /** SCAN pattern of every window of a rate bucket. */
  rateLimitWindows: (bucket: string) => `mm:rate:${globEscape(bucket)}:*`,

  message: (account: string, messageId: string) => `mm:msg:${account}:${enc(messageId)}`,
  tenants: (account: string) => `mm:tenants:${account}`,
  /** SCAN pattern of every account's tenant set, and the account a match belongs to. */
  allTenantSets: () => "mm:tenants:*",
  accountOfTenantSet: (key: string) => key.slice("mm:tenants:".length),
  conversation: (account: string, tenant: string, conversation: string) =>
    `mm:conv:${account}:${enc(tenant)}:${enc(conversation)}`,
  /** ZSET of a tenant's conversation ids scored by last activity (ms). */
  conversations: (account: string, tenant: string) => `mm:convs:${account}:${enc(tenant)}`,
  /** SET of the tenants in which an account uses a conversation id. */
  conversationTenants: (account: string, conversation: string) => `mm:conv-tenants:${account}:${enc(conversation)}`,
  /** ZSET of a conversation's message ids in order. */
  conversationMessages: (account: string, tenant: string, conversation: string) =>
    `mm:conv-msgs:${account}:${enc(tenant)}:${enc(conversation)}`,
  /** A tenant's running reindex (JSON: when it started, its job ids), so only one runs at a time. */
  reindexClaim: (account: string, tenant: string) => `mm:reindex:${account}:${enc(tenant)}`,
  /** ZSET of `account:messageId` accepted but not yet indexed or failed, scored by enqueue time. */
  outbox: () => "mm:outbox",
  /** LIST of `account:messageId` accepted and not yet turned into a job by a worker's dispatcher. */
  dispatch: () => "mm:dispatch",

  /** HASH of cluster-wide counters: accepted, indexed, failed (see metrics.ts). */
  stats: () => "mm:stats",
  /** The embedding model the stored vectors belong to. */
  embeddingModel: () => "mm:embedding-model",
  vectorIndex: (model: string) => `mm:idx:${model}`,
  /** A throwaway index (and its prefix) to probe for vector support. */
  probeIndex: () => `mm:probe:${crypto.randomUUID()}`,
  vectorDocPrefix: (model: string) => `mm:vec:${model}:`,
  vectorDoc: (model: string, account: string, tenant: string, messageId: string) =>
    `mm:vec:${model}:${account}:${enc(tenant)}:${enc(messageId)}`,
  /** Exact engine: one HASH per tenant, field = message id, value = packed filters + vector. */
  exactVectors: (model: string, account: string, tenant: string) => `mm:vecx:${model}:${account}:${enc(tenant)}`,
  /** SCAN pattern of every exact-engine vector hash of a model. */
  allExactVectors: (model: string) => `${globEscape(`mm:vecx:${model}:`)}*`,

  /**
   * SCAN patterns that together match every data key of an account: messages, conversations and
   * vectors of `model` (the account id is ours, so no other account's key can match).
   */
  accountDataPatterns: (account: string, model: string) => [
    `mm:msg:${account}:*`,
    `mm:tenants:${account}`,
    `mm:conv:${account}:*`,
    `mm:convs:${account}:*`,
    `mm:conv-tenants:${account}:*`,
    `mm:conv-msgs:${account}:*`,
    `mm:reindex:${account}:*`,
    `${globEscape(`mm:vec:${model}:${account}:`)}*`,
    `${globEscape(`mm:vecx:${model}:${account}:`)}*`,
  ],

  /** The one pub/sub channel workers and API instances publish message events on. */
  eventsChannel: () => "mm:events",
  /** Ids of revoked API keys, so every API instance drops them from its key cache at once. */
  authChannel: () => "mm:auth-revoked",
  /** BullMQ's prefix; its keys live under `mm:bull:`. */
  bullPrefix: () => "mm:bull",
} as const;

export const QUEUE_INDEX = "INDEX_MESSAGES";

/** Outbox members pair the account with the message id. */
export const outboxMember = (account: string, messageId: string) => `${account}:${enc(messageId)}`;
export function parseOutboxMember(member: string): { account: string; messageId: string } {
  const at = member.indexOf(":");
  return { account: member.slice(0, at), messageId: decodeURIComponent(member.slice(at + 1)) };
}
