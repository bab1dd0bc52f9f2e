import type { RedisClient } from "../store/redis";
import { assertTenant, callerCharge, settleRate } from "../auth/credentials";
import type { Principal } from "../auth/model";
import { type CallerCharge, rateDecision, TAKE_RATE_LUA } from "../auth/rate-limit";
import type { Deps } from "../deps";
import { AppError, conflict, validationFailed } from "../errors";
import type { FieldError } from "../http/error-response";
import { EMIT_LUA, envelope } from "../events/model";
import { keys, outboxMember } from "../store/keys";
import { Script } from "../store/script";
import { DEFAULT_IMPORTANCE, type Message, type MessageInput, toMessage } from "./model";
import { parseTimestamp } from "./timestamps";

const KEYS_PER_MESSAGE = 7;
const ARGS_PER_MESSAGE = 15;
/** How far in the future a client's `created_at` may be (clock skew). */
export const CREATED_AT_SKEW_MS = 5 * 60_000;

/**
 * Charges the request to the caller's rate budget, then stores messages, their conversations,
 * outbox entries and dispatch entries in one atomic step, and publishes `message.created`: one
 * round trip for the whole request. Refused by the rate limit: nothing is written. An id that
 * already exists with the same content is a retry (left as is); with other content it is a
 * conflict and nothing is written. A conversation's tenant sets are written when the
 * conversation is created (here or by the conversations API; deleting it removes both at once).
 * Returns {1, used, limit, stored...} with 1 (stored) or 0 (already there) per message,
 * {-1, used, limit, index} on a conflict, {-2, used, limit} past the rate limit (see take_rates).
 * KEYS: outbox, tenants, rate, 7 per message, stats, dispatch, account rate, expiries, event log, webhooks.
 * ARGV: n, now (ms), accepted at (ISO), channel, cost, limit, window ms, account limit, 15 per message (the 11th
 * is '1' when the id came from the client, the only case in which it can already exist; the 12th and
 * 13th are the message's created_at as ISO and ms, the time of acceptance unless the client gave one;
 * the last two its expiry as ISO and ms, or empty).
 * A message's position in its conversation (and in its tenant's time index) is created_ms * 1000 +
 * its index in the request, so imported history sorts by when it was said.
 */
const ACCEPT = new Script(`${TAKE_RATE_LUA}${EMIT_LUA}
local n = tonumber(ARGV[1])
local now = ARGV[2]
local created_at = ARGV[3]
local channel = ARGV[4]
local allowed, used, limit = take_rates(KEYS[3], tonumber(ARGV[6]), KEYS[6 + n * ${KEYS_PER_MESSAGE}], tonumber(ARGV[8]), tonumber(ARGV[5]), tonumber(ARGV[7]))
if allowed == 0 then return {-2, used, limit} end
local stats = KEYS[4 + n * ${KEYS_PER_MESSAGE}]
local dispatch = KEYS[5 + n * ${KEYS_PER_MESSAGE}]
local expiries = KEYS[7 + n * ${KEYS_PER_MESSAGE}]
local event_log = KEYS[8 + n * ${KEYS_PER_MESSAGE}]
local hooks = KEYS[9 + n * ${KEYS_PER_MESSAGE}]
local exists = {}
for i = 0, n - 1 do
  local a = 9 + i * ${ARGS_PER_MESSAGE}
  if ARGV[a + 10] == '1' then
    local fp = redis.call('HGET', KEYS[4 + i * ${KEYS_PER_MESSAGE}], 'fp')
    if fp and fp ~= ARGV[a + 7] then return {-1, used, limit, i} end
    exists[i] = fp
  end
end
local result = {1, used, limit}
local stored = 0
for i = 0, n - 1 do
  local k = 4 + i * ${KEYS_PER_MESSAGE}
  local a = 9 + i * ${ARGS_PER_MESSAGE}
  if exists[i] then
    result[#result + 1] = 0
  else
    redis.call('HSET', KEYS[k], 'id', ARGV[a], 'tenant_id', ARGV[a + 1], 'conversation_id', ARGV[a + 2],
      'role', ARGV[a + 3], 'content', ARGV[a + 4], 'importance', ARGV[a + 5], 'metadata', ARGV[a + 6],
      'status', 'pending', 'created_at', ARGV[a + 11], 'created_ms', ARGV[a + 12], 'fp', ARGV[a + 7])
    local conv = KEYS[k + 1]
    if redis.call('HINCRBY', conv, 'message_count', 1) == 1 and redis.call('HEXISTS', conv, 'tenant_id') == 0 then
      redis.call('HSET', conv, 'tenant_id', ARGV[a + 1], 'conversation_id', ARGV[a + 2], 'title', '',
        'metadata', 'null', 'created_at', created_at, 'updated_at', created_at, 'last_message_at', created_at)
      redis.call('SADD', KEYS[k + 3], ARGV[a + 1])
      redis.call('SADD', KEYS[2], ARGV[a + 1])
    else
      redis.call('HSET', conv, 'last_message_at', created_at)
    end
    redis.call('ZADD', KEYS[k + 2], now, ARGV[a + 2])
    local position = ARGV[a + 12] .. string.format('%03d', i)
    redis.call('ZADD', KEYS[k + 4], position, ARGV[a])
    redis.call('ZADD', KEYS[k + 5], position, ARGV[a])
    redis.call('HINCRBY', KEYS[k + 6], 'pending', 1)
    if ARGV[a + 14] ~= '' then
      redis.call('HSET', KEYS[k], 'expires_at', ARGV[a + 13], 'expires_ms', ARGV[a + 14])
      redis.call('ZADD', expiries, ARGV[a + 14], ARGV[a + 9])
    end
    redis.call('ZADD', KEYS[1], now, ARGV[a + 9])
    redis.call('RPUSH', dispatch, ARGV[a + 9])
    emit(channel, event_log, hooks, ARGV[a + 8])
    stored = stored + 1
    result[#result + 1] = 1
  end
end
if stored > 0 then redis.call('HINCRBY', stats, 'accepted', stored) end
return result
`);

interface Prepared {
  id: string;
  createdAt: string;
  createdMs: number;
  /** when it expires (ms), from ttl_seconds or expires_at */
  expiresMs?: number;
  input: MessageInput;
  importance: number;
  metadata: string;
  fp: string;
  /** the id was chosen by the client (or derived from its Idempotency-Key), so it may exist already */
  clientId: boolean;
  /** the message as answered (and as published in `message.created`) */
  message: Message;
}

export const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/**
 * What a retry with the same id must repeat (the message as given, with its created_at when the
 * client chose it): the same fingerprint is a retry, another one a conflict.
 */
export function messageFingerprint(
  m: Pick<MessageInput, "tenant_id" | "conversation_id" | "role" | "content">,
  importance: number,
  metadataJson: string,
  clientCreatedMs?: number,
): string {
  const fields: (string | number)[] = [m.tenant_id, m.conversation_id, m.role, m.content, importance, metadataJson];
  if (clientCreatedMs !== undefined) fields.push(clientCreatedMs);
  return sha256(JSON.stringify(fields));
}

/** Ids derived from an Idempotency-Key: the same key and position always give the same id. */
function idFromIdempotencyKey(account: string, key: string, index: number): string {
  return `idem-${sha256(`${account}\n${key}\n${index}`).slice(0, 32)}`;
}

/** Checks the configured limits (the schema has only hard ceilings), naming each bad field. */
function checkLimits(deps: Pick<Deps, "config">, prepared: Prepared[], path: (i: number) => string, now: number): void {
  const { MAX_CONTENT_CHARS, MAX_METADATA_BYTES, MAX_BATCH_MESSAGES } = deps.config;
  const problems: FieldError[] = [];
  if (prepared.length > MAX_BATCH_MESSAGES)
    problems.push({ field: "messages", message: `At most ${MAX_BATCH_MESSAGES} messages per batch` });
  const seen = new Map<string, number>();
  prepared.forEach(({ input: m, metadata }, i) => {
    if (!m.content.isWellFormed())
      problems.push({ field: `${path(i)}content`, message: "Contains invalid Unicode (a lone surrogate)" });
    if (m.content.length > MAX_CONTENT_CHARS)
      problems.push({ field: `${path(i)}content`, message: `At most ${MAX_CONTENT_CHARS} characters` });
    if (m.metadata && Buffer.byteLength(metadata) > MAX_METADATA_BYTES)
      problems.push({ field: `${path(i)}metadata`, message: `At most ${MAX_METADATA_BYTES} bytes as JSON` });
    if (m.created_at) {
      const ms = parseTimestamp(m.created_at);
      if (ms === undefined) problems.push({ field: `${path(i)}created_at`, message: "Expected an ISO-8601 date-time with an offset, e.g. 2026-11-20T18:04:00Z" });
      else if (ms < 0) problems.push({ field: `${path(i)}created_at`, message: "Must be 1970 or later" });
      else if (ms > now + CREATED_AT_SKEW_MS) problems.push({ field: `${path(i)}created_at`, message: "Must not be in the future" });
    }
    if (m.ttl_seconds != null && m.expires_at != null)
      problems.push({ field: `${path(i)}expires_at`, message: "Give ttl_seconds or expires_at, not both" });
    if (m.expires_at != null) {
      const ms = parseTimestamp(m.expires_at);
      if (ms === undefined) problems.push({ field: `${path(i)}expires_at`, message: "Expected an ISO-8601 date-time with an offset, e.g. 2027-01-01T00:00:00Z" });
      else if (ms <= now) problems.push({ field: `${path(i)}expires_at`, message: "Must be in the future" });
    }
    if (m.id) {
      const first = seen.get(m.id);
      if (first !== undefined) problems.push({ field: `${path(i)}id`, message: `Same id as ${path(first)}id` });
      else seen.set(m.id, i);
    }
  });
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
}

/** When a message expires (ms since the epoch): `ttl_seconds` from now, or `expires_at`; none by default. */
export function expiryOf(input: { ttl_seconds?: number | null; expires_at?: string | null }, now: number): number | undefined {
  if (input.ttl_seconds != null) return now + input.ttl_seconds * 1000;
  return input.expires_at != null ? parseTimestamp(input.expires_at) : undefined;
}

function prepare(account: string, inputs: MessageInput[], now: number, acceptedAt: string, idempotencyKey?: string): Prepared[] {
  return inputs.map((input, i) => {
    const importance = input.importance ?? DEFAULT_IMPORTANCE;
    const metadata = JSON.stringify(input.metadata ?? null);
    const id = input.id ?? (idempotencyKey ? idFromIdempotencyKey(account, idempotencyKey, i) : Bun.randomUUIDv7());
    // A client's created_at is part of what a retry must repeat; checkLimits refuses bad ones.
    const clientMs = input.created_at ? parseTimestamp(input.created_at) : undefined;
    const createdMs = clientMs ?? now;
    const createdAt = clientMs === undefined ? acceptedAt : new Date(clientMs).toISOString();
    const fp = messageFingerprint(input, importance, metadata, clientMs === undefined ? undefined : createdMs);
    const expiresMs = expiryOf(input, now);
    const message: Message = {
      id, tenant_id: input.tenant_id, conversation_id: input.conversation_id, role: input.role, content: input.content,
      importance, metadata: input.metadata ?? null, status: "pending", created_at: createdAt, indexed_at: null, error: null,
      expires_at: expiresMs === undefined ? null : new Date(expiresMs).toISOString(), updated_at: null,
    };
    return { id, createdAt, createdMs, expiresMs, input, importance, metadata, fp, clientId: Boolean(input.id) || idempotencyKey !== undefined, message };
  });
}

/** REDIS_WAIT_REPLICAS: a 202 only once this many replicas hold the messages (0 = when the master does). */
interface Durability {
  replicas: number;
  timeoutMs: number;
}

async function store(redis: RedisClient, account: string, prepared: Prepared[], now: number, createdAt: string, rate: CallerCharge, durability: Durability) {
  const keyList: string[] = [keys.outboxOf(account), keys.tenants(account), rate.key];
  const args: (string | number)[] = [prepared.length, now, createdAt, keys.eventsChannelOf(account), rate.cost, rate.limit, rate.windowMs, rate.also.limit];
  prepared.forEach((p) => {
    const { tenant_id: tenant, conversation_id: conv } = p.input;
    keyList.push(
      keys.message(account, p.id),
      keys.conversation(account, tenant, conv),
      keys.conversations(account, tenant),
      keys.conversationTenants(account, conv),
      keys.conversationMessages(account, tenant, conv),
      keys.tenantMessages(account, tenant),
      keys.tenantStats(account, tenant),
    );
    args.push(
      p.id, tenant, conv, p.input.role, p.input.content, p.importance, p.metadata, p.fp,
      envelope(account, "message.created", p.message), outboxMember(account, p.id), p.clientId ? "1" : "0",
      p.createdAt, p.createdMs, p.message.expires_at ?? "", p.expiresMs ?? "",
    );
  });
  keyList.push(keys.statsOf(account), keys.dispatchOf(account), rate.also.key, keys.expiriesOf(account), keys.eventLogOf(account), keys.webhooks(account));
  let reply: number[];
  if (durability.replicas > 0) {
    const { reply: replied, acked } = await ACCEPT.runReplicated<number[]>(redis, keyList, args, durability.replicas, durability.timeoutMs);
    // Stored on the master but not yet on enough replicas: a failover now could lose it, so no 202.
    // A retry with the same ids (or Idempotency-Key) is answered from what is stored.
    if (replied[0] === 1 && acked < durability.replicas) {
      throw new AppError(503, "not_replicated", `Stored, but not yet on ${durability.replicas} replica(s); retry with the same message ids or Idempotency-Key`, { replicas: acked }, { "Retry-After": "1" });
    }
    reply = replied;
  } else {
    reply = await ACCEPT.run<number[]>(redis, keyList, args);
  }
  const [code, used, limit, ...rest] = reply;
  // Past the limit settleRate throws 429; otherwise these are the RateLimit-* headers to send.
  const rateHeaders = settleRate(rateDecision(rate, [code === -2 ? 0 : 1, used, limit]));
  if (code === -1) {
    const at = rest[0];
    throw conflict("idempotency_conflict", `Message id "${prepared[at].id}" was already used for different content`, {
      index: at,
      id: prepared[at].id,
    });
  }
  return { stored: rest, rateHeaders };
}

/**
 * Accepts messages for indexing: validated, then charged to the caller's rate budget and stored
 * atomically with their outbox and dispatch entries (one Redis call, no queue work on the request
 * path). Workers turn dispatch entries into BullMQ jobs; the outbox sweeper re-drives anything a
 * crash dropped. Returns the messages in input order (a retry gets the stored message) and the
 * RateLimit-* headers.
 */
export async function acceptMessages(
  deps: Pick<Deps, "config" | "redis">,
  principal: Principal,
  inputs: MessageInput[],
  options: { idempotencyKey?: string; batch: boolean; cost?: number },
): Promise<{ messages: Message[]; rateHeaders: Record<string, string> }> {
  const { account } = principal;
  const now = Date.now();
  const createdAt = new Date(now).toISOString();
  const prepared = prepare(account, inputs, now, createdAt, options.idempotencyKey);
  checkLimits(deps, prepared, (i) => (options.batch ? `messages.${i}.` : ""), now);
  for (const m of inputs) assertTenant(principal, m.tenant_id, "write");
  const { stored, rateHeaders } = await store(deps.redis, account, prepared, now, createdAt, callerCharge(deps, principal, options.cost), {
    replicas: deps.config.REDIS_WAIT_REPLICAS,
    timeoutMs: deps.config.REDIS_WAIT_TIMEOUT_MS,
  });
  const messages = prepared.map((p) => p.message);
  // A retry answers with what was stored the first time.
  const retried = prepared.flatMap((_, i) => (stored[i] === 1 ? [] : [i]));
  if (retried.length > 0) {
    const rows = await Promise.all(retried.map((i) => deps.redis.hgetall(keys.message(account, prepared[i].id))));
    retried.forEach((i, j) => {
      messages[i] = toMessage(rows[j]);
    });
  }
  return { messages, rateHeaders };
}
