import type { Deps } from "../deps";
import { isLive, toMessage } from "../messages/model";
import { keys } from "../store/keys";
import { type SortedPosition, sortedPage } from "../store/sorted-pages";
import { toConversation } from "../conversations/model";
import { retentionCutoff } from "./policy";

/** Messages (or conversations) read per step of the stream. */
const STEP = 500;

export type ExportDeps = Pick<Deps, "redis" | "vectors" | "embedder">;

/** Reads hashes in one pipelined round trip. */
async function readHashes(deps: ExportDeps, names: string[]): Promise<Record<string, string>[]> {
  const pipeline = deps.redis.pipeline();
  for (const name of names) pipeline.hgetall(name);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value as Record<string, string>;
  });
}

/**
 * A tenant as NDJSON, produced a step at a time as the client reads (constant memory, whatever
 * the tenant's size): first a `conversation` line per conversation (title, metadata, times and
 * its activity, so lists sort as before), then a `message` line per live message, oldest first,
 * with its status, times and metadata; `includeVectors` adds each indexed message's vector
 * (base64 of its FLOAT32 bytes, little-endian) and the model that made it. The format is what
 * import takes.
 */
export function exportTenant(deps: ExportDeps, account: string, tenant: string, includeVectors: boolean): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const model = deps.embedder.modelKey;
  let phase: "conversations" | "messages" | "done" = "conversations";
  let after: SortedPosition | undefined;
  let cutoffMs: number | undefined;
  let now = 0;

  const conversationLines = async (): Promise<string[]> => {
    const entries = await sortedPage(deps.redis, keys.conversations(account, tenant), { after }, STEP);
    if (entries.length < STEP) phase = "messages";
    after = entries.length < STEP ? undefined : entries[entries.length - 1];
    const rows = await readHashes(deps, entries.map((e) => keys.conversation(account, tenant, e.member)));
    return rows.flatMap((row, i) =>
      row.conversation_id ? [JSON.stringify({ type: "conversation", ...toConversation(row), last_activity_ms: entries[i].score })] : [],
    );
  };

  const messageLines = async (): Promise<string[]> => {
    const entries = await sortedPage(deps.redis, keys.tenantMessages(account, tenant), { after }, STEP);
    if (entries.length < STEP) phase = "done";
    after = entries[entries.length - 1];
    const rows = (await readHashes(deps, entries.map((e) => keys.message(account, e.member)))).filter((row) => row.id && isLive(row, now, cutoffMs));
    const vectors = includeVectors ? await deps.vectors.readVectors(account, tenant, rows.map((row) => row.id)) : [];
    return rows.map((row, i) => {
      const line: Record<string, unknown> = { type: "message", ...toMessage(row) };
      const vector = vectors[i];
      if (vector && row.status === "indexed") Object.assign(line, { vector: vector.toString("base64"), vector_model: model });
      return JSON.stringify(line);
    });
  };

  return new ReadableStream<Uint8Array>({
    async start() {
      now = Date.now();
      cutoffMs = await retentionCutoff(deps.redis, account, tenant, now);
    },
    async pull(controller) {
      // Each pull produces one step's lines (or finishes); the stream asks again when they are read.
      for (;;) {
        if (phase === "done") return controller.close();
        const lines = phase === "conversations" ? await conversationLines() : await messageLines();
        if (lines.length > 0) return controller.enqueue(encoder.encode(`${lines.join("\n")}\n`));
      }
    },
  });
}
