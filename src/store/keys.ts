import { badRequest } from "../errors";

/**
 * Every Redis key, channel and index name Memory Mesh uses. User-supplied parts (tenant,
 * conversation and message ids) are URI-encoded so `:` inside them can never make two different
 * keys collide. The account id is our own and is part of every data key, which is what keeps
 * accounts apart by construction.
 */
const PLAIN = /^[A-Za-z0-9_.!~*'()-]*$/; // what encodeURIComponent leaves as it is
const enc = (part: string) => {
  if (PLAIN.test(part)) return part; // the common case, on every request: no work to do
  // Schemas refuse lone surrogates already; this keeps a missed one a 400, never a 500.
  if (!part.isWellFormed()) throw badRequest("Ids must be well-formed Unicode text");
  return encodeURIComponent(part);
};

export const PREFIX = "mm:";

export const keys = {
  user: (userId: string) => `mm:user:${userId}`,
  userByEmail: (email: string) => `mm:user-email:${enc(email.toLowerCase())}`,
  userByName: (username: string) => `mm:user-name:${enc(username.toLowerCase())}`,
  userApiKeys: (userId: string) => `mm:user-keys:${userId}`,
  apiKey: (keyId: string) => `mm:api-key:${keyId}`,
  refreshToken: (tokenId: string) => `mm:refresh:${tokenId}`,
  refreshFamily: (familyId: string) => `mm:refresh-family:${familyId}`,
  rateLimit: (bucket: string, window: number) => `mm:rate:${bucket}:${window}`,

  message: (account: string, messageId: string) => `mm:msg:${account}:${enc(messageId)}`,
  tenants: (account: string) => `mm:tenants:${account}`,
  conversation: (account: string, tenant: string, conversation: string) =>
    `mm:conv:${account}:${enc(tenant)}:${enc(conversation)}`,
  /** ZSET of a tenant's conversation ids scored by last activity (ms). */
  conversations: (account: string, tenant: string) => `mm:convs:${account}:${enc(tenant)}`,
  /** SET of the tenants in which an account uses a conversation id. */
  conversationTenants: (account: string, conversation: string) => `mm:conv-tenants:${account}:${enc(conversation)}`,
  /** ZSET of a conversation's message ids in order. */
  conversationMessages: (account: string, tenant: string, conversation: string) =>
    `mm:conv-msgs:${account}:${enc(tenant)}:${enc(conversation)}`,
  /** ZSET of `account:messageId` accepted but not yet indexed or failed, scored by enqueue time. */
  outbox: () => "mm:outbox",
  /** LIST of `account:messageId` accepted and not yet turned into a job by a worker's dispatcher. */
  dispatch: () => "mm:dispatch",
  /** STRING held (with a short expiry) by the one worker sweeping the outbox. */
  outboxLock: () => "mm:outbox-lock",

  /** HASH of cluster-wide counters: accepted, indexed, failed (see metrics.ts). */
  stats: () => "mm:stats",
  /** The embedding model the stored vectors belong to. */
  embeddingModel: () => "mm:embedding-model",
  vectorIndex: (model: string) => `mm:idx:${model}`,
  vectorDocPrefix: (model: string) => `mm:vec:${model}:`,
  vectorDoc: (model: string, account: string, tenant: string, messageId: string) =>
    `mm:vec:${model}:${account}:${enc(tenant)}:${enc(messageId)}`,
  /** Exact engine: one HASH per tenant, field = message id, value = packed filters + vector. */
  exactVectors: (model: string, account: string, tenant: string) => `mm:vecx:${model}:${account}:${enc(tenant)}`,

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
