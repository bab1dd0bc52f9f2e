import type { Deps } from "../deps";
import type { Message } from "../messages/model";
import { conversationNeighbours } from "../messages/neighbours";
import { loadMessages } from "../messages/read";
import { envelope } from "../events/model";
import { keys, outboxMember } from "../store/keys";
import type { IndexJobData } from "../store/queue";
import { Script } from "../store/script";
import type { EmbedBatcher } from "./batcher";

/** What indexing uses. */
export type IndexingDeps = Pick<Deps, "config" | "redis" | "vectors">;

/**
 * Writes a message's vector and marks it indexed, atomically, only if the message still exists
 * (a delete may have raced the embedding) and, unless forced, only once: re-processing after a
 * crash or a duplicate job changes nothing and publishes nothing.
 */
const MARK_INDEXED = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
if ARGV[1] ~= '1' and redis.call('HGET', KEYS[1], 'status') == 'indexed' then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
if ARGV[6] == 'hash' then
  redis.call('HSET', KEYS[2], unpack(ARGV, 7))
else
  redis.call('HSET', KEYS[2], ARGV[7], ARGV[8])
end
redis.call('HSET', KEYS[1], 'status', 'indexed', 'indexed_at', ARGV[3])
redis.call('HDEL', KEYS[1], 'error')
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'indexed', 1)
redis.call('SPUBLISH', ARGV[4], ARGV[5])
return 1
`);

/** Marks a message failed for good (unless it got indexed meanwhile) and tells subscribers. */
const MARK_FAILED = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if redis.call('HGET', KEYS[1], 'status') == 'indexed' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'failed', 1)
redis.call('SPUBLISH', ARGV[3], ARGV[4])
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

/** Embeds (through the shared batcher) and indexes the messages of one job. */
export async function indexMessages(deps: IndexingDeps, batcher: EmbedBatcher, job: IndexJobData): Promise<IndexOutcome> {
  const { account, force } = job;
  const messages = (await loadMessages(deps, account, job.ids)).filter((m) => force || m.status !== "indexed");
  if (messages.length === 0) return { indexed: 0, skipped: job.ids.length };
  const vectors = await batcher.embed(await embeddingTexts(deps, account, messages));
  const indexedAt = new Date().toISOString();
  const results = await Promise.all(
    messages.map((m, i) => {
      const write = deps.vectors.writeFor(
        {
          account, tenant: m.tenant_id, conversation: m.conversation_id, role: m.role, importance: m.importance,
          createdAt: Date.parse(m.created_at), content: m.content, messageId: m.id, metadata: m.metadata,
        },
        vectors[i],
      );
      const event = envelope(account, "message.indexed", { ...m, status: "indexed", indexed_at: indexedAt, error: null });
      return MARK_INDEXED.run<number>(
        deps.redis,
        [keys.message(account, m.id), write.key, keys.outboxOf(account), keys.statsOf(account)],
        [force ? "1" : "0", outboxMember(account, m.id), indexedAt, keys.eventsChannelOf(account), event, write.mode, ...write.fields],
      );
    }),
  );
  const indexed = results.filter((r) => r === 1).length;
  return { indexed, skipped: job.ids.length - indexed };
}

/** After the last attempt: the job's messages become `failed` with the reason. */
export async function markFailed(deps: Pick<Deps, "redis">, job: IndexJobData, reason: string): Promise<number> {
  const messages: Message[] = await loadMessages(deps, job.account, job.ids);
  const results = await Promise.all(
    messages.map((m) =>
      MARK_FAILED.run<number>(
        deps.redis,
        [keys.message(job.account, m.id), keys.outboxOf(job.account), keys.statsOf(job.account)],
        [outboxMember(job.account, m.id), reason, keys.eventsChannelOf(job.account), envelope(job.account, "message.failed", { ...m, status: "failed", error: reason })],
      ),
    ),
  );
  return results.filter((r) => r === 1).length;
}
