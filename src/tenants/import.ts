import { t } from "elysia";
import { Value } from "@sinclair/typebox/value";
import { callerCharge, settleRate } from "../auth/credentials";
import type { Principal } from "../auth/model";
import { type CallerCharge, rateDecision, TAKE_RATE_LUA } from "../auth/rate-limit";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { bodyChunks, mediaTypeOf } from "../http/body";
import { fieldErrors } from "../http/error-response";
import { ConversationId, Maybe, MessageId, Metadata, TenantId } from "../http/schemas";
import { messageFingerprint, sha256 } from "../messages/accept";
import { DEFAULT_IMPORTANCE, MAX_CONTENT_CEILING, MessageStatus, Role } from "../messages/model";
import { MOVE_STATUS_LUA } from "../messages/status";
import { parseTimestamp } from "../messages/timestamps";
import { CREATED_AT_SKEW_MS } from "../messages/accept";
import { keys, outboxMember } from "../store/keys";
import { Script } from "../store/script";
import type { ImportReport } from "./model";

export type ImportDeps = Pick<Deps, "config" | "redis" | "vectors" | "embedder">;

/** One line of an export: a message (the default when `type` is absent) or a conversation. */
const MessageLine = t.Object({
  type: t.Optional(t.Literal("message")),
  id: t.Optional(MessageId),
  tenant_id: t.Optional(TenantId),
  conversation_id: ConversationId,
  role: Role,
  content: t.String({ minLength: 1, maxLength: MAX_CONTENT_CEILING }),
  importance: Maybe(t.Number({ minimum: 0, maximum: 1 })),
  metadata: Maybe(Metadata),
  status: t.Optional(MessageStatus),
  created_at: Maybe(t.String({ maxLength: 40 })),
  indexed_at: Maybe(t.String({ maxLength: 40 })),
  expires_at: Maybe(t.String({ maxLength: 40 })),
  vector: t.Optional(t.String()),
  vector_model: t.Optional(t.String({ maxLength: 256 })),
});
type MessageLine = typeof MessageLine.static;

const ConversationLine = t.Object({
  type: t.Literal("conversation"),
  tenant_id: t.Optional(TenantId),
  conversation_id: ConversationId,
  title: Maybe(t.String({ maxLength: 500 })),
  metadata: Maybe(Metadata),
  created_at: Maybe(t.String({ maxLength: 40 })),
  updated_at: Maybe(t.String({ maxLength: 40 })),
  last_message_at: Maybe(t.String({ maxLength: 40 })),
  last_activity_ms: t.Optional(t.Integer({ minimum: 0 })),
});
type ConversationLine = typeof ConversationLine.static;

/** Media types an NDJSON body may be sent as. */
const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/json", "text/plain"]);
/** Messages stored per script call. */
const BATCH = 200;
/**
 * On the Query Engine each vector written is an HNSW insertion inside the script (1-2 ms at 512-d):
 * lines with vectors go a few per call, so no call holds Redis up for long (200 took 0.2-1.9 s).
 */
const QUERY_ENGINE_VECTOR_BATCH = 8;
const MAX_REPORTED_ERRORS = 100;

/**
 * Stores a batch of imported messages in one atomic step, charging the rate limit for the new
 * ones only (a re-run costs nothing and changes nothing). An id already stored with the same
 * fingerprint is left as it is (0), with another one is a conflict (-1, nothing written for it).
 * A message with a vector of the server's model is stored indexed with it; any other is pending and
 * queued like an accepted one. Conversations are created as by accepting; their last activity only
 * moves forward. Returns {1, used, limit, result per message} or {-2, used, limit} past the limit.
 * KEYS: tenants, outbox, dispatch, expiries, stats, rate, account rate, then 8 per message:
 * message, conversation, conversations, conversation tenants, conversation messages, tenant
 * messages, tenant stats, vector key. ARGV: n, now, unit, limit, window ms, account limit, then per
 * message: id, tenant, conversation, role, content, importance, metadata, fp, created_at, created ms,
 * position, status, indexed_at, expires_at, expires ms, outbox member, write mode, field count, fields.
 */
const IMPORT = new Script(`${TAKE_RATE_LUA}${MOVE_STATUS_LUA}
local n = tonumber(ARGV[1])
local now = ARGV[2]
local args = {}
local a = 7
for i = 1, n do
  local count = tonumber(ARGV[a + 17])
  args[i] = a
  a = a + 18 + count
end
local results = {}
local fresh = 0
for i = 1, n do
  local k = 8 + (i - 1) * 8
  local fp = redis.call('HGET', KEYS[k], 'fp')
  if fp == false then
    results[i] = 1
    fresh = fresh + 1
  elseif fp == ARGV[args[i] + 7] then
    results[i] = 0
  else
    results[i] = -1
  end
end
local cost = math.ceil(fresh / tonumber(ARGV[3]))
local allowed, used, limit = take_rates(KEYS[6], tonumber(ARGV[4]), KEYS[7], tonumber(ARGV[6]), cost, tonumber(ARGV[5]))
if allowed == 0 then return {-2, used, limit} end
local indexed = 0
for i = 1, n do
  if results[i] == 1 then
    local k = 8 + (i - 1) * 8
    local b = args[i]
    local status = ARGV[b + 11]
    redis.call('HSET', KEYS[k], 'id', ARGV[b], 'tenant_id', ARGV[b + 1], 'conversation_id', ARGV[b + 2], 'role', ARGV[b + 3],
      'content', ARGV[b + 4], 'importance', ARGV[b + 5], 'metadata', ARGV[b + 6], 'fp', ARGV[b + 7],
      'created_at', ARGV[b + 8], 'created_ms', ARGV[b + 9])
    move_status(KEYS[k], KEYS[k + 6], status)
    local conv = KEYS[k + 1]
    if redis.call('HINCRBY', conv, 'message_count', 1) == 1 and redis.call('HEXISTS', conv, 'tenant_id') == 0 then
      redis.call('HSET', conv, 'tenant_id', ARGV[b + 1], 'conversation_id', ARGV[b + 2], 'title', '', 'metadata', 'null',
        'created_at', ARGV[b + 8], 'updated_at', ARGV[b + 8], 'last_message_at', ARGV[b + 8])
      redis.call('SADD', KEYS[k + 3], ARGV[b + 1])
      redis.call('SADD', KEYS[1], ARGV[b + 1])
    else
      local last = redis.call('HGET', conv, 'last_message_at')
      if not last or last < ARGV[b + 8] then redis.call('HSET', conv, 'last_message_at', ARGV[b + 8]) end
    end
    redis.call('ZADD', KEYS[k + 2], 'GT', ARGV[b + 9], ARGV[b + 2])
    redis.call('ZADD', KEYS[k + 4], ARGV[b + 10], ARGV[b])
    redis.call('ZADD', KEYS[k + 5], ARGV[b + 10], ARGV[b])
    if ARGV[b + 14] ~= '' then
      redis.call('HSET', KEYS[k], 'expires_at', ARGV[b + 13], 'expires_ms', ARGV[b + 14])
      redis.call('ZADD', KEYS[4], ARGV[b + 14], ARGV[b + 15])
    end
    if status == 'indexed' then
      redis.call('HSET', KEYS[k], 'indexed_at', ARGV[b + 12])
      redis.call('HSET', KEYS[k + 7], unpack(ARGV, b + 18, b + 17 + tonumber(ARGV[b + 17])))
      indexed = indexed + 1
    else
      redis.call('ZADD', KEYS[2], now, ARGV[b + 15])
      redis.call('RPUSH', KEYS[3], ARGV[b + 15])
    end
  end
end
if fresh > 0 then redis.call('HINCRBY', KEYS[5], 'accepted', fresh) end
if indexed > 0 then redis.call('HINCRBY', KEYS[5], 'indexed', indexed) end
local reply = {1, used, limit}
for i = 1, n do reply[#reply + 1] = results[i] end
return reply
`);

/**
 * Applies a conversation line: creates the conversation if missing, sets its title, metadata and
 * times as exported, and its activity (what lists sort by) forward to the exported one.
 * KEYS: conversation, conversations, conversation tenants, tenants.
 * ARGV: tenant, conversation, title, metadata, created_at, updated_at, last_message_at, activity ms.
 */
const IMPORT_CONVERSATION = new Script(`
if redis.call('HEXISTS', KEYS[1], 'tenant_id') == 0 then
  redis.call('HSET', KEYS[1], 'tenant_id', ARGV[1], 'conversation_id', ARGV[2])
  if redis.call('HEXISTS', KEYS[1], 'message_count') == 0 then redis.call('HSET', KEYS[1], 'message_count', 0) end
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
end
redis.call('HSET', KEYS[1], 'title', ARGV[3], 'metadata', ARGV[4], 'created_at', ARGV[5], 'updated_at', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'last_message_at', ARGV[7]) end
redis.call('ZADD', KEYS[2], 'GT', ARGV[8], ARGV[2])
return 1
`);

/** A message line checked and ready to store. */
interface Prepared {
  line: number;
  id: string;
  conversation: string;
  args: (string | number | Buffer)[];
  vectorKey: string;
  withVector: boolean;
}

/** Raised for a bad line: reported with its number, the import goes on. */
class LineError extends Error {}

/** The first problem of a line, in the words the API uses for request bodies. */
function firstError(schema: Parameters<typeof Value.Errors>[0], value: unknown): string | undefined {
  const [first] = fieldErrors({ all: [...Value.Errors(schema, value)] });
  if (!first) return undefined;
  return first.message.startsWith(first.field) ? first.message : `${first.field}: ${first.message}`;
}

/** Splits a byte stream into numbered lines (UTF-8), without holding more than one line; an over-long line is reported, not held. */
async function* numberedLines(chunks: AsyncIterable<Uint8Array>, maxLine: number): AsyncGenerator<{ line: number; text?: string; error?: string }> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = () => {
    line++;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (tooLong) {
      tooLong = false;
      return { line, error: `Line longer than ${maxLine} bytes` };
    }
    try {
      return { line, text: decoder.decode(bytes) };
    } catch {
      return { line, error: "Not valid UTF-8" };
    }
  };
  for await (const chunk of chunks) {
    let from = 0;
    for (;;) {
      const at = chunk.indexOf(10, from);
      const piece = chunk.subarray(from, at < 0 ? chunk.length : at);
      if (!tooLong) {
        size += piece.length;
        if (size > maxLine) tooLong = true;
        else if (piece.length > 0) parts.push(piece);
      }
      if (at < 0) break;
      yield finish();
      from = at + 1;
    }
  }
  if (size > 0 || tooLong || parts.length > 0) yield finish();
}

/**
 * Imports a tenant from NDJSON as exported (GET /v1/tenants/{tenant_id}/export), streamed: read,
 * checked and stored BATCH lines at a time, in constant memory, gzip accepted. Ids and created_at
 * are kept; importing is idempotent by id (a re-run changes nothing); vectors of the server's model
 * are stored as they are (no embedding), other messages are embedded by the workers. Lines that
 * cannot be imported (malformed, another tenant, an id used for other content) are skipped and
 * reported with their line number. Past the rate limit the import stops with a 429 whose details
 * say how far it got (everything before is stored; re-run it to go on).
 */
export async function importTenant(deps: ImportDeps, principal: Principal, tenant: string, request: Request): Promise<ImportReport> {
  const type = mediaTypeOf(request);
  if (!NDJSON_TYPES.has(type)) {
    throw new AppError(415, "unsupported_media_type", "Send the body as application/x-ndjson (one JSON object per line), gzip allowed", { content_type: type || "(none)" });
  }
  const { account } = principal;
  const { config, embedder } = deps;
  const report: ImportReport = { lines: 0, imported: 0, with_vectors: 0, unchanged: 0, conversations: 0, rejected: 0, errors: [] };
  const reject = (line: number, message: string) => {
    report.rejected++;
    if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, message });
  };
  const now = Date.now();
  const charge = callerCharge(deps, principal, 0);
  let batch: Prepared[] = [];
  let lastMs = -1;
  let tie = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const stored = await storeBatch(deps, account, tenant, batch, now, charge);
    if (stored.refused) {
      const error = settleRateError(stored.decision, report, batch[0].line);
      throw error;
    }
    stored.results.forEach((result, i) => {
      const p = batch[i];
      if (result === 1) {
        report.imported++;
        if (p.withVector) report.with_vectors++;
      } else if (result === 0) report.unchanged++;
      else reject(p.line, `id: "${p.id}" is already used by a message with other content`);
    });
    batch = [];
  };

  const vectorBatch = deps.vectors.engine === "query-engine" ? QUERY_ENGINE_VECTOR_BATCH : BATCH;
  const maxLine = config.MAX_CONTENT_CHARS * 4 + config.MAX_METADATA_BYTES + 64 * 1024;
  for await (const { line, text, error } of numberedLines(bodyChunks(request, config.MAX_IMPORT_BYTES), maxLine)) {
    report.lines = line;
    if (error) {
      reject(line, error);
      continue;
    }
    if (!text || text.trim() === "") continue;
    try {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new LineError("Not valid JSON");
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new LineError("Expected a JSON object");
      const lineTenant = (value as { tenant_id?: unknown }).tenant_id;
      if (lineTenant !== undefined && lineTenant !== tenant) throw new LineError(`tenant_id: this line is for tenant ${JSON.stringify(lineTenant)}, not ${JSON.stringify(tenant)}`);
      if ((value as { type?: unknown }).type === "conversation") {
        await importConversation(deps, account, tenant, value);
        report.conversations++;
        continue;
      }
      const problem = firstError(MessageLine, value);
      if (problem) throw new LineError(problem);
      const m = value as MessageLine;
      const createdMs = m.created_at == null ? now : parseTimestamp(m.created_at);
      if (createdMs === undefined) throw new LineError("created_at: expected an ISO-8601 date-time with an offset");
      // Lines come oldest first: messages of the same millisecond keep their order.
      tie = createdMs === lastMs ? Math.min(tie + 1, 999) : 0;
      lastMs = createdMs;
      const prepared = prepareMessage(deps, account, tenant, m, createdMs, tie, now, line, embedder.modelKey, embedder.dimensions);
      // The same id twice in one batch: store the first, so the second is seen as a retry or a conflict.
      if (batch.some((p) => p.id === prepared.id)) await flush();
      batch.push(prepared);
    } catch (caught) {
      if (!(caught instanceof LineError)) throw caught;
      reject(line, caught.message);
      continue;
    }
    if (batch.length >= BATCH || batch.filter((p) => p.withVector).length >= vectorBatch) await flush();
  }
  await flush();
  return report;
}

/** A 429 whose details are the report so far, and the line the import stopped at. */
function settleRateError(decision: ReturnType<typeof rateDecision>, report: ImportReport, line: number): Error {
  try {
    settleRate(decision);
  } catch (error) {
    if (error instanceof AppError) {
      return new AppError(429, error.code, `${error.message}; the import stopped at line ${line}: everything before is stored, re-run it to go on`, { ...report, stopped_at_line: line }, error.headers);
    }
    return error as Error;
  }
  return new Error("rate limit refused without a reason");
}

function prepareMessage(
  deps: ImportDeps,
  account: string,
  tenant: string,
  m: MessageLine,
  createdMs: number,
  tie: number,
  now: number,
  line: number,
  model: string,
  dimensions: number,
): Prepared {
  const { MAX_CONTENT_CHARS, MAX_METADATA_BYTES } = deps.config;
  if (createdMs < 0) throw new LineError("created_at: must be 1970 or later");
  if (createdMs > now + CREATED_AT_SKEW_MS) throw new LineError("created_at: must not be in the future");
  if (!m.content.isWellFormed()) throw new LineError("content: contains invalid Unicode (a lone surrogate)");
  if (m.content.length > MAX_CONTENT_CHARS) throw new LineError(`content: at most ${MAX_CONTENT_CHARS} characters`);
  const metadata = JSON.stringify(m.metadata ?? null);
  if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) throw new LineError(`metadata: at most ${MAX_METADATA_BYTES} bytes as JSON`);
  let expiresMs: number | undefined;
  if (m.expires_at != null) {
    expiresMs = parseTimestamp(m.expires_at);
    if (expiresMs === undefined) throw new LineError("expires_at: expected an ISO-8601 date-time with an offset");
    if (expiresMs <= now) throw new LineError("expires_at: already past; the message would be forgotten at once");
  }
  const importance = m.importance ?? DEFAULT_IMPORTANCE;
  const createdAt = new Date(createdMs).toISOString();
  const input = { tenant_id: tenant, conversation_id: m.conversation_id, role: m.role, content: m.content };
  const id = m.id ?? `imp-${sha256(JSON.stringify([account, tenant, m.conversation_id, m.role, m.content, createdMs])).slice(0, 32)}`;
  let vector: Float32Array | undefined;
  if (m.vector !== undefined && m.vector_model === model) {
    const bytes = Buffer.from(m.vector, "base64");
    if (bytes.length !== dimensions * 4) throw new LineError(`vector: expected ${dimensions} FLOAT32 values (${dimensions * 4} bytes), got ${bytes.length} bytes`);
    vector = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  const write = vector
    ? deps.vectors.writeFor(
        { account, tenant, conversation: m.conversation_id, role: m.role, importance, createdAt: createdMs, content: m.content, messageId: id, metadata: m.metadata ?? null },
        vector,
      )
    : undefined;
  const { exactKey } = deps.vectors.removalFor(account, tenant, id);
  const args: (string | number | Buffer)[] = [
    id, tenant, m.conversation_id, m.role, m.content, importance, metadata, messageFingerprint(input, importance, metadata, createdMs),
    createdAt, createdMs, `${createdMs}${String(tie).padStart(3, "0")}`, write ? "indexed" : "pending",
    write ? (m.indexed_at ?? new Date(now).toISOString()) : "",
    expiresMs === undefined ? "" : new Date(expiresMs).toISOString(), expiresMs ?? "", outboxMember(account, id),
    write?.mode ?? "", write?.fields.length ?? 0, ...(write?.fields ?? []),
  ];
  return { line, id, conversation: m.conversation_id, args, vectorKey: write?.key ?? exactKey, withVector: Boolean(write) };
}

async function storeBatch(deps: ImportDeps, account: string, tenant: string, batch: Prepared[], now: number, charge: CallerCharge) {
  const keyList: string[] = [
    keys.tenants(account), keys.outboxOf(account), keys.dispatchOf(account), keys.expiriesOf(account), keys.statsOf(account), charge.key, charge.also.key,
  ];
  const args: (string | number | Buffer)[] = [batch.length, now, deps.config.RATE_LIMIT_BATCH_UNIT, charge.limit, charge.windowMs, charge.also.limit];
  for (const p of batch) {
    keyList.push(
      keys.message(account, p.id),
      keys.conversation(account, tenant, p.conversation),
      keys.conversations(account, tenant),
      keys.conversationTenants(account, p.conversation),
      keys.conversationMessages(account, tenant, p.conversation),
      keys.tenantMessages(account, tenant),
      keys.tenantStats(account, tenant),
      p.vectorKey,
    );
    args.push(...p.args);
  }
  const [code, used, limit, ...results] = await IMPORT.run<number[]>(deps.redis, keyList, args as (string | number)[]);
  const decision = rateDecision(charge, [code === -2 ? 0 : 1, used, limit]);
  return { refused: code === -2, decision, results };
}

async function importConversation(deps: ImportDeps, account: string, tenant: string, value: unknown): Promise<void> {
  const problem = firstError(ConversationLine, value);
  if (problem) throw new LineError(problem);
  const c = value as ConversationLine;
  const times = [c.created_at, c.updated_at, c.last_message_at].map((text) => (text == null ? undefined : parseTimestamp(text)));
  if ([c.created_at, c.updated_at, c.last_message_at].some((text, i) => text != null && times[i] === undefined))
    throw new LineError("created_at, updated_at, last_message_at: expected ISO-8601 date-times with an offset");
  const iso = (ms: number | undefined, fallback: string) => (ms === undefined ? fallback : new Date(ms).toISOString());
  const now = new Date().toISOString();
  await IMPORT_CONVERSATION.run(
    deps.redis,
    [keys.conversation(account, tenant, c.conversation_id), keys.conversations(account, tenant), keys.conversationTenants(account, c.conversation_id), keys.tenants(account)],
    [
      tenant, c.conversation_id, c.title ?? "", JSON.stringify(c.metadata ?? null), iso(times[0], now), iso(times[1], now),
      times[2] === undefined ? "" : iso(times[2], ""), c.last_activity_ms ?? times[2] ?? 0,
    ],
  );
}
