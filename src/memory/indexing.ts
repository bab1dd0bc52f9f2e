import type { Deps } from "../deps";
import { type Message, toMessage } from "../messages/model";
import { conversationNeighbours } from "../messages/neighbours";
import { loadMessages, loadRows } from "../messages/read";
import { MOVE_STATUS_LUA } from "../messages/status";
import { EMIT_LUA, envelope } from "../events/model";
import { keys, outboxMember } from "../store/keys";
import type { IndexJobData } from "../store/queue";
import { Script } from "../store/script";
import type { EmbedBatcher } from "./batcher";

/** What indexing uses. */
export type IndexingDeps = Pick<Deps, "config" | "redis" | "vectors">;

/**
 * Writes a message's vector and marks it indexed, atomically, only if the message still exists
 * (a delete may have raced the embedding), is still the version that was embedded (an update may
 * have raced it: -1, embed again) and, unless forced, only once: re-processing after a crash or a
 * duplicate job changes nothing and publishes nothing.
 * KEYS: message, vector key, outbox, stats, tenant stats, event log, webhooks. ARGV: force, outbox member, indexed at,
 * channel, event, write mode, version, write fields...
 */
const MARK_INDEXED = new Script(`${MOVE_STATUS_LUA}${EMIT_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[7] then return -1 end
if ARGV[1] ~= '1' and redis.call('HGET', KEYS[1], 'status') == 'indexed' then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
if ARGV[6] == 'hash' then
  redis.call('HSET', KEYS[2], unpack(ARGV, 8))
else
  redis.call('HSET', KEYS[2], ARGV[8], ARGV[9])
end
move_status(KEYS[1], KEYS[5], 'indexed')
redis.call('HSET', KEYS[1], 'indexed_at', ARGV[3])
redis.call('HDEL', KEYS[1], 'error')
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'indexed', 1)
emit(ARGV[4], KEYS[6], KEYS[7], ARGV[5])
return 1
`);

/** Marks a message failed for good (unless it got indexed meanwhile) and tells subscribers. */
const MARK_FAILED = new Script(`${MOVE_STATUS_LUA}${EMIT_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if redis.call('HGET', KEYS[1], 'status') == 'indexed' then return 0 end
move_status(KEYS[1], KEYS[4], 'failed')
redis.call('HSET', KEYS[1], 'error', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'failed', 1)
emit(ARGV[3], KEYS[5], KEYS[6], ARGV[4])
return 1
`);

export interface IndexOutcome {
  indexed: number;
  skipped: number;
}

/**
 * What is embedded for each message: its content, or with EMBED_CONTEXT_TURNS > 0 the contents of
 * up to that many earlier messages of its conversation, then its own (a chat turn alone often
 * says too little: "yes, on Tuesday"). Keyword search always indexes the message's own content.
 */
async function embeddingTexts(deps: IndexingDeps, account: string, messages: Message[]): Promise<string[]> {
  const turns = deps.config.EMBED_CONTEXT_TURNS;
  if (turns === 0) return messages.map((m) => m.content);
  const neighbours = await conversationNeighbours(deps, account, messages, turns, 0);
  return messages.map((m, i) => [...neighbours[i].before.map((b) => b.content), m.content].join("\n"));
}

/** An update that raced the embedding makes the write stale; it is embedded again, at most this often. */
const STALE_ROUNDS = 3;

/**
 * Embeds (through the shared batcher) and indexes the messages of one job. A message updated while
 * it was being embedded is loaded and written again (its vector reused when only its metadata or
 * importance changed), so the index never keeps what an update replaced.
 */
export async function indexMessages(deps: IndexingDeps, batcher: EmbedBatcher, job: IndexJobData): Promise<IndexOutcome> {
  const { account, force } = job;
  const embedded = new Map<string, Float32Array>();
  let ids = job.ids;
  let indexed = 0;
  for (let round = 0; round < STALE_ROUNDS && ids.length > 0; round++) {
    const rows = (await loadRows(deps, account, ids)).filter((r) => r.id && (force || r.status !== "indexed"));
    if (rows.length === 0) break;
    const messages = rows.map(toMessage);
    const texts = await embeddingTexts(deps, account, messages);
    const missing = [...new Set(texts.filter((text) => !embedded.has(text)))];
    if (missing.length > 0) {
      const vectors = await batcher.embed(missing);
      for (const [i, vector] of vectors.entries()) embedded.set(missing[i], vector);
    }
    const indexedAt = new Date().toISOString();
    const results = await Promise.all(
      messages.map((m, i) => {
        const write = deps.vectors.writeFor(
          {
            account, tenant: m.tenant_id, conversation: m.conversation_id, role: m.role, importance: m.importance,
            createdAt: Date.parse(m.created_at), content: m.content, messageId: m.id, metadata: m.metadata,
          },
          embedded.get(texts[i]) as Float32Array,
        );
        const event = envelope(account, "message.indexed", { ...m, status: "indexed", indexed_at: indexedAt, error: null });
        return MARK_INDEXED.run<number>(
          deps.redis,
          [keys.message(account, m.id), write.key, keys.outboxOf(account), keys.statsOf(account), keys.tenantStats(account, m.tenant_id), keys.eventLogOf(account), keys.webhooks(account)],
          [force ? "1" : "0", outboxMember(account, m.id), indexedAt, keys.eventsChannelOf(account), event, write.mode, rows[i].version ?? "0", ...write.fields],
        );
      }),
    );
    indexed += results.filter((r) => r === 1).length;
    ids = messages.flatMap((m, i) => (results[i] === -1 ? [m.id] : []));
  }
  return { indexed, skipped: job.ids.length - indexed };
}

/** After the last attempt: the job's messages become `failed` with the reason. */
export async function markFailed(deps: Pick<Deps, "redis">, job: IndexJobData, reason: string): Promise<number> {
  const messages: Message[] = await loadMessages(deps, job.account, job.ids, { includeExpired: true });
  const results = await Promise.all(
    messages.map((m) =>
      MARK_FAILED.run<number>(
        deps.redis,
        [keys.message(job.account, m.id), keys.outboxOf(job.account), keys.statsOf(job.account), keys.tenantStats(job.account, m.tenant_id), keys.eventLogOf(job.account), keys.webhooks(job.account)],
        [outboxMember(job.account, m.id), reason, keys.eventsChannelOf(job.account), envelope(job.account, "message.failed", { ...m, status: "failed", error: reason })],
      ),
    ),
  );
  return results.filter((r) => r === 1).length;
}
