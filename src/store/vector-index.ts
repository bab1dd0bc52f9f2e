import type { Redis } from "ioredis";
import type { Config } from "../config";
import type { Logger } from "../log";
import type { Embedder } from "./embeddings";
import { keys } from "./keys";

export type VectorEngine = "query-engine" | "exact";

/** What every stored vector carries, so both engines can apply the same pre-filters. */
export interface VectorDoc {
  account: string;
  tenant: string;
  conversation: string;
  role: string;
  importance: number;
  createdAt: number;
  content: string;
  messageId: string;
}

export interface VectorFilter {
  account: string;
  tenant: string;
  conversation?: string;
  role?: string;
  minImportance?: number;
}

export interface VectorHit {
  messageId: string;
  /** cosine similarity, higher is closer */
  score: number;
}

/** Where and how vectors are written: the same write serves the Lua indexing script. */
export interface VectorWrite {
  key: string;
  /** `hash`: a HASH document of its own (Query Engine); `field`: one field of a per-tenant HASH (exact). */
  mode: "hash" | "field";
  /** field/value pairs (hash mode) or [messageId, packed] (field mode) */
  fields: (string | Buffer)[];
}

/** Tag separator: a control character, which ids may never contain, so no id is split into two tags. */
const TAG_SEPARATOR = "\x1f";
const EXACT_SCAN_CHUNK = 1000;

export function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** Escapes a TAG value for DIALECT 2 queries: every ASCII character but letters, digits and `_`. */
export function escapeTag(value: string): string {
  return value.replace(/[^A-Za-z0-9_\u0080-\uffff]/g, (c) => `\\${c}`);
}

/** Probes with a throwaway VECTOR index: a search module without vector support does not count. */
export async function detectVectorSupport(redis: Redis): Promise<boolean> {
  const name = `mm:probe:${crypto.randomUUID()}`;
  try {
    await redis.call(
      "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", `${name}:`, "SCHEMA",
      "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "COSINE",
    );
  } catch {
    return false;
  }
  await redis.call("FT.DROPINDEX", name).catch(() => undefined);
  return true;
}

/** Packs an exact-engine entry: uint16 header length, JSON header of the filter fields, FLOAT32 vector. */
export function packExact(doc: VectorDoc, vector: Float32Array): Buffer {
  const header = Buffer.from(JSON.stringify({ c: doc.conversation, r: doc.role, i: doc.importance }));
  const out = Buffer.allocUnsafe(2 + header.length + vector.byteLength);
  out.writeUInt16LE(header.length, 0);
  header.copy(out, 2);
  toBlob(vector).copy(out, 2 + header.length);
  return out;
}

export interface VectorIndex {
  readonly engine: VectorEngine;
  readonly name: string;
  /** Creates the index if missing (idempotent, never drops). */
  ensure(): Promise<void>;
  writeFor(doc: VectorDoc, vector: Float32Array): VectorWrite;
  /** Keys and fields to remove a message's vector from both layouts. */
  removalFor(account: string, tenant: string, messageId: string): { docKey: string; exactKey: string };
  search(filter: VectorFilter, vector: Float32Array, k: number): Promise<VectorHit[]>;
}

export function createVectorIndex(
  redis: Redis,
  engine: VectorEngine,
  embedder: Embedder,
  config: Config,
  log?: Logger,
): VectorIndex {
  const model = embedder.modelKey;
  const name = keys.vectorIndex(model);
  const removalFor = (account: string, tenant: string, messageId: string) => ({
    docKey: keys.vectorDoc(model, account, tenant, messageId),
    exactKey: keys.exactVectors(model, account, tenant),
  });

  if (engine === "exact") {
    return {
      engine,
      name: `exact:${model}`,
      ensure: async () => undefined,
      writeFor: (doc, vector) => ({
        key: keys.exactVectors(model, doc.account, doc.tenant),
        mode: "field",
        fields: [doc.messageId, packExact(doc, vector)],
      }),
      removalFor,
      search: (filter, vector, k) => exactSearch(redis, keys.exactVectors(model, filter.account, filter.tenant), filter, vector, k),
    };
  }

  const tag = (field: string) => [field, "TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"];
  const schema = [
    ...tag("account"), ...tag("tenant"), ...tag("conversation"), ...tag("role"),
    "importance", "NUMERIC", "created_at", "NUMERIC", "content", "TEXT",
    "vec", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", String(embedder.dimensions),
    "DISTANCE_METRIC", "COSINE", "M", String(config.HNSW_M), "EF_CONSTRUCTION", String(config.HNSW_EF_CONSTRUCTION),
  ];

  return {
    engine,
    name,
    async ensure() {
      try {
        await redis.call("FT.INFO", name);
        return;
      } catch (error) {
        if (!/unknown index|no such index/i.test((error as Error).message)) throw error;
      }
      try {
        await redis.call("FT.CREATE", name, "ON", "HASH", "PREFIX", "1", keys.vectorDocPrefix(model), "SCHEMA", ...schema);
        log?.info({ index: name, dimensions: embedder.dimensions }, "created vector index");
      } catch (error) {
        if (!/already exists/i.test((error as Error).message)) throw error;
      }
      // A timed-out query must fail, never return a partial result as if complete.
      await redis.call("FT.CONFIG", "SET", "ON_TIMEOUT", "FAIL").catch((error: Error) => {
        log?.warn({ err: error.message }, "could not set ON_TIMEOUT FAIL; relying on per-query TIMEOUT");
      });
    },
    writeFor: (doc, vector) => ({
      key: keys.vectorDoc(model, doc.account, doc.tenant, doc.messageId),
      mode: "hash",
      fields: [
        "mid", doc.messageId, "account", doc.account, "tenant", doc.tenant, "conversation", doc.conversation,
        "role", doc.role, "importance", String(doc.importance), "created_at", String(doc.createdAt),
        "content", doc.content, "vec", toBlob(vector),
      ],
    }),
    removalFor,
    async search(filter, vector, k) {
      const clauses = [`@account:{${escapeTag(filter.account)}}`, `@tenant:{${escapeTag(filter.tenant)}}`];
      if (filter.conversation !== undefined) clauses.push(`@conversation:{${escapeTag(filter.conversation)}}`);
      if (filter.role !== undefined) clauses.push(`@role:{${escapeTag(filter.role)}}`);
      if (filter.minImportance !== undefined) clauses.push(`@importance:[${filter.minImportance} +inf]`);
      const query = `(${clauses.join(" ")})=>[KNN $k @vec $blob EF_RUNTIME $ef AS dist]`;
      const reply = (await redis.call(
        "FT.SEARCH", name, query,
        "PARAMS", "6", "k", String(k), "blob", toBlob(vector), "ef", String(Math.max(config.HNSW_EF_RUNTIME, k)),
        "SORTBY", "dist", "ASC", "RETURN", "2", "mid", "dist", "LIMIT", "0", String(k),
        "TIMEOUT", String(config.SEARCH_TIMEOUT_MS), "DIALECT", "2",
      )) as unknown[];
      const hits: VectorHit[] = [];
      for (let i = 1; i + 1 < reply.length; i += 2) {
        const fields = reply[i + 1] as string[];
        const row: Record<string, string> = {};
        for (let j = 0; j + 1 < fields.length; j += 2) row[String(fields[j])] = String(fields[j + 1]);
        if (row.mid === undefined || row.dist === undefined) continue;
        hits.push({ messageId: row.mid, score: 1 - Number(row.dist) });
      }
      return hits;
    },
  };
}

/**
 * Exact cosine search over one tenant's vectors, read with HSCAN in chunks so no single command
 * blocks Redis for long. Vectors are unit length, so the dot product is the cosine similarity.
 */
async function exactSearch(
  redis: Redis,
  key: string,
  filter: VectorFilter,
  query: Float32Array,
  k: number,
): Promise<VectorHit[]> {
  const top: VectorHit[] = [];
  const scratch = new Float32Array(query.length);
  let cursor = "0";
  do {
    const [next, entries] = await redis.hscanBuffer(key, cursor, "COUNT", EXACT_SCAN_CHUNK);
    cursor = next.toString();
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const packed = entries[i + 1];
      const headerLength = packed.readUInt16LE(0);
      const header = JSON.parse(packed.toString("utf8", 2, 2 + headerLength)) as { c: string; r: string; i: number };
      if (filter.conversation !== undefined && header.c !== filter.conversation) continue;
      if (filter.role !== undefined && header.r !== filter.role) continue;
      if (filter.minImportance !== undefined && header.i < filter.minImportance) continue;
      const offset = 2 + headerLength;
      const dims = (packed.length - offset) / 4;
      if (dims !== query.length) continue;
      // copy into an aligned buffer: a Float32Array view needs a 4-byte aligned offset
      new Uint8Array(scratch.buffer, 0, dims * 4).set(packed.subarray(offset));
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += scratch[d] * query[d];
      if (top.length < k || dot > top[top.length - 1].score) {
        const hit = { messageId: entries[i].toString(), score: dot };
        // HSCAN may return an entry twice (while the hash is rehashed): keep one.
        if (top.some((t) => t.messageId === hit.messageId)) continue;
        let at = top.length;
        while (at > 0 && top[at - 1].score < dot) at--;
        top.splice(at, 0, hit);
        if (top.length > k) top.pop();
      }
    }
  } while (cursor !== "0");
  return top;
}
