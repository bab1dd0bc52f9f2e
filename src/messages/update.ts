import { assertTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { notFound, validationFailed } from "../errors";
import { emitEvent } from "../events/emit";
import { envelope } from "../events/model";
import type { FieldError } from "../http/error-response";
import { REWRITE_EXACT_FILTERS_LUA } from "../store/exact-index";
import { keys, outboxMember } from "../store/keys";
import { Script } from "../store/script";
import { metadataTags } from "../store/text";
import { metaField } from "../store/vector-index";
import { expiryOf } from "./accept";
import { type Message, type MessageUpdate, toMessage } from "./model";
import { getMessage } from "./read";
import { MOVE_STATUS_LUA } from "./status";
import { parseTimestamp } from "./timestamps";

/**
 * Applies an update to a message in one atomic step. Its `version` goes up, so an embedding of the
 * version before (in flight in a worker) is not written over it (see MARK_INDEXED). New content:
 * the old vector leaves the index at once (search never ranks a message by words it no longer
 * has), the message is `pending` again and queued like a new one. Metadata or importance alone:
 * changed in place in both index layouts, no new embedding. Returns 0 when the message is gone.
 * KEYS: message, tenant stats, QE document, exact hash, outbox, dispatch, expiries.
 * ARGV: id, outbox member, now (ms), updated at, content?, metadata?, QE meta field, exact tags
 * (JSON), importance?, expiry ('keep' | 'clear' | 'set'), expires_at, expires_ms. A `?` value is
 * given with a '1' before it, or '0' and an empty value.
 */
const UPDATE = new Script(`${MOVE_STATUS_LUA}${REWRITE_EXACT_FILTERS_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'version', 1)
local reembed = ARGV[5] == '1' and redis.call('HGET', KEYS[1], 'content') ~= ARGV[6]
if reembed then
  redis.call('HSET', KEYS[1], 'content', ARGV[6])
  move_status(KEYS[1], KEYS[2], 'pending')
  redis.call('HDEL', KEYS[1], 'error', 'indexed_at', 'job_id')
  redis.call('DEL', KEYS[3])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
  redis.call('RPUSH', KEYS[6], ARGV[2])
end
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'metadata', ARGV[8]) end
if ARGV[11] == '1' then redis.call('HSET', KEYS[1], 'importance', ARGV[12]) end
if not reembed and (ARGV[7] == '1' or ARGV[11] == '1') then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    if ARGV[7] == '1' then redis.call('HSET', KEYS[3], 'meta', ARGV[9]) end
    if ARGV[11] == '1' then redis.call('HSET', KEYS[3], 'importance', ARGV[12]) end
  end
  rewrite_exact_filters(KEYS[4], ARGV[1], ARGV[11] == '1' and ARGV[12], ARGV[7] == '1' and ARGV[10])
end
if ARGV[13] == 'clear' then
  redis.call('HDEL', KEYS[1], 'expires_at', 'expires_ms')
  redis.call('ZREM', KEYS[7], ARGV[2])
elseif ARGV[13] == 'set' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[14], 'expires_ms', ARGV[15])
  redis.call('ZADD', KEYS[7], ARGV[15], ARGV[2])
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
return 1
`);

function checkUpdate(deps: Pick<Deps, "config">, input: MessageUpdate, now: number): void {
  const problems: FieldError[] = [];
  const { content, metadata, importance, ttl_seconds: ttl, expires_at: expiresAt } = input;
  if (content === undefined && metadata === undefined && importance === undefined && ttl === undefined && expiresAt === undefined)
    problems.push({ field: "(body)", message: "Nothing to update: give content, metadata, importance, ttl_seconds or expires_at" });
  if (content != null && !content.isWellFormed()) problems.push({ field: "content", message: "Contains invalid Unicode (a lone surrogate)" });
  if (content != null && content.length > deps.config.MAX_CONTENT_CHARS)
    problems.push({ field: "content", message: `At most ${deps.config.MAX_CONTENT_CHARS} characters` });
  if (metadata != null && Buffer.byteLength(JSON.stringify(metadata)) > deps.config.MAX_METADATA_BYTES)
    problems.push({ field: "metadata", message: `At most ${deps.config.MAX_METADATA_BYTES} bytes as JSON` });
  if (ttl != null && expiresAt != null) problems.push({ field: "expires_at", message: "Give ttl_seconds or expires_at, not both" });
  if (expiresAt != null) {
    const ms = parseTimestamp(expiresAt);
    if (ms === undefined) problems.push({ field: "expires_at", message: "Expected an ISO-8601 date-time with an offset, e.g. 2027-01-01T00:00:00Z" });
    else if (ms <= now) problems.push({ field: "expires_at", message: "Must be in the future" });
  }
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
}

/**
 * Updates a message's content, metadata, importance or expiry (only the fields given; `null`
 * metadata clears it, `null` ttl_seconds / expires_at make it never expire). Concurrent updates:
 * the last one wins, field by field. Sends `message.updated` with the message as stored after it.
 */
export async function updateMessage(deps: Pick<Deps, "config" | "redis" | "vectors">, principal: Principal, id: string, input: MessageUpdate): Promise<Message> {
  const now = Date.now();
  checkUpdate(deps, input, now);
  const current = await getMessage(deps, principal, id);
  assertTenant(principal, current.tenant_id, "write");
  const { account } = principal;
  const { docKey, exactKey } = deps.vectors.removalFor(account, current.tenant_id, id);
  const flag = <T>(value: T | undefined, text: (v: T) => string) => (value === undefined ? ["0", ""] : ["1", text(value)]);
  const metadata = input.metadata === undefined ? undefined : (input.metadata ?? null);
  const expiryGiven = input.ttl_seconds !== undefined || input.expires_at !== undefined;
  const expiresMs = expiryOf(input, now);
  const expiry = !expiryGiven ? "keep" : expiresMs === undefined ? "clear" : "set";
  const updated = await UPDATE.run<number>(
    deps.redis,
    [keys.message(account, id), keys.tenantStats(account, current.tenant_id), docKey, exactKey, keys.outboxOf(account), keys.dispatchOf(account), keys.expiriesOf(account)],
    [
      id, outboxMember(account, id), now, new Date(now).toISOString(),
      ...flag(input.content ?? undefined, (c) => c),
      ...flag(metadata, (m) => JSON.stringify(m)), metaField(metadata), JSON.stringify(metadataTags(metadata)),
      ...flag(input.importance ?? undefined, String),
      expiry, expiresMs === undefined ? "" : new Date(expiresMs).toISOString(), expiresMs ?? "",
    ],
  );
  const row = await deps.redis.hgetall(keys.message(account, id));
  if (updated === 0 || !row.id) throw notFound("Message");
  const message = toMessage(row);
  await emitEvent(deps.redis, account, envelope(account, "message.updated", message));
  return message;
}
