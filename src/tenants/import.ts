import { t } from "elysia";
import { Value } from "@sinclair/typebox/value";
import { callerCharge } from "../auth/credentials";
import type { Principal } from "../auth/model";
import { type RateDecision, rateHeaders } from "../auth/rate-limit";
import type { Deps } from "../deps";
import { AppError, tooManyRequests } from "../errors";
import { bodyChunks, mediaTypeOf } from "../http/body";
import { fieldErrors } from "../http/error-response";
import { numberedLines } from "../http/ndjson";
import { ConversationId, Maybe, MessageId, Metadata, TenantId } from "../http/schemas";
import { CREATED_AT_SKEW_MS, messageFingerprint, sha256 } from "../messages/accept";
import { DEFAULT_IMPORTANCE, MAX_CONTENT_CEILING, MessageStatus, Role } from "../messages/model";
import { parseTimestamp } from "../messages/timestamps";
import { outboxMember } from "../store/keys";
import { type PreparedLine, storeConversation, storeMessages } from "./import-store";
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

/** Raised for a bad line: reported with its number, the import goes on. */
class LineError extends Error {}

/** The first problem of a line, in the words the API uses for request bodies. */
function firstError(schema: Parameters<typeof Value.Errors>[0], value: unknown): string | undefined {
  const [first] = fieldErrors({ all: [...Value.Errors(schema, value)] });
  if (!first) return undefined;
  return first.message.startsWith(first.field) ? first.message : `${first.field}: ${first.message}`;
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
  let batch: PreparedLine[] = [];
  let withVectors = 0;
  let lastMs = -1;
  let tie = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const stored = await storeMessages(deps, account, tenant, batch, now, charge);
    if (stored.refused) throw stoppedByRateLimit(stored.decision, report, batch[0].line);
    stored.results.forEach((result, i) => {
      const p = batch[i];
      if (result === 1) {
        report.imported++;
        if (p.withVector) report.with_vectors++;
      } else if (result === 0) report.unchanged++;
      else reject(p.line, `id: "${p.id}" is already used by a message with other content`);
    });
    batch = [];
    withVectors = 0;
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
      if (prepared.withVector) withVectors++;
    } catch (caught) {
      if (!(caught instanceof LineError)) throw caught;
      reject(line, caught.message);
      continue;
    }
    if (batch.length >= BATCH || withVectors >= vectorBatch) await flush();
  }
  await flush();
  return report;
}

/** A 429 whose details are the report so far, and the line the import stopped at. */
function stoppedByRateLimit(decision: RateDecision, report: ImportReport, line: number): AppError {
  const refused = tooManyRequests(decision.resetS);
  const message = `${refused.message}; the import stopped at line ${line}: everything before is stored, re-run it to go on`;
  return new AppError(429, refused.code, message, { ...report, stopped_at_line: line }, { ...refused.headers, ...rateHeaders(decision) });
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
): PreparedLine {
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

async function importConversation(deps: ImportDeps, account: string, tenant: string, value: unknown): Promise<void> {
  const problem = firstError(ConversationLine, value);
  if (problem) throw new LineError(problem);
  const c = value as ConversationLine;
  const times = [c.created_at, c.updated_at, c.last_message_at].map((text) => (text == null ? undefined : parseTimestamp(text)));
  if ([c.created_at, c.updated_at, c.last_message_at].some((text, i) => text != null && times[i] === undefined))
    throw new LineError("created_at, updated_at, last_message_at: expected ISO-8601 date-times with an offset");
  const iso = (ms: number | undefined, fallback: string) => (ms === undefined ? fallback : new Date(ms).toISOString());
  const now = new Date().toISOString();
  await storeConversation(deps, account, tenant, c.conversation_id, [
    c.title ?? "", JSON.stringify(c.metadata ?? null), iso(times[0], now), iso(times[1], now),
    times[2] === undefined ? "" : iso(times[2], ""), c.last_activity_ms ?? times[2] ?? 0,
  ]);
}
