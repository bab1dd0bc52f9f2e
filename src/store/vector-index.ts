import type { Redis } from "ioredis";
import type { Config } from "../config";
import type { Logger } from "../log";
import type { Embedder } from "./embeddings";
import { keys } from "./keys";
import { metadataTags, termFrequencies, termOf, tokenize } from "./text";

export type VectorEngine = "query-engine" | "exact";

/** What every stored vector carries, so both engines can apply the same pre-filters and keyword search. */
export interface VectorDoc {
  account: string;
  tenant: string;
  conversation: string;
  role: string;
  importance: number;
  createdAt: number;
  content: string;
  messageId: string;
  metadata?: Record<string, unknown> | null;
}

/** Pre-filters, applied by both engines before ranking (all given ones must hold). */
export interface VectorFilter {
  account: string;
  tenant: string;
  conversation?: string;
  /** any of these roles */
  roles?: string[];
  minImportance?: number;
  /** created at or after (ms) */
  createdAfter?: number;
  /** created before (ms, exclusive) */
  createdBefore?: number;
  /** `key=value` tags from metadataTags(), all required */
  metadata?: string[];
}

export interface VectorHit {
  messageId: string;
  /** semantic: cosine similarity, higher is closer; keyword: BM25 */
  score: number;
  /** keyword: the share of the query's IDF mass (sum of its terms' IDF) this message matches, 0-1 */
  coverage?: number;
}

/** What to rank by: a query vector (semantic list), query tokens (keyword list), or both at once. */
export interface RankRequest {
  vector?: Float32Array;
  /** from queryTokens(): unstemmed, stopwords removed */
  tokens?: string[];
  /** how many hits each list returns at most */
  depth: number;
}

export interface RankedLists {
  semantic: VectorHit[];
  keyword: VectorHit[];
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
const DOCUMENT_COUNT_TTL_MS = 10_000;
/** BM25 constants of the exact engine, as the Query Engine's BM25STD (Robertson/Sparck Jones). */
const BM25_K1 = 1.2;
const BM25_B = 0.75;

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

/** The filter fields and keyword statistics an exact-engine entry carries in its header. */
interface ExactHeader {
  c: string;
  r: string;
  i: number;
  /** created at (ms); absent in entries written before keyword search */
  t?: number;
  /** metadata tags */
  m?: string[];
  /** document length in tokens, and term frequencies */
  n?: number;
  w?: Record<string, number>;
}

/** Packs an exact-engine entry: uint16 header length, JSON header (filters, term frequencies), FLOAT32 vector. */
export function packExact(doc: VectorDoc, vector: Float32Array): Buffer {
  const { terms, length } = termFrequencies(doc.content);
  const fields: ExactHeader = { c: doc.conversation, r: doc.role, i: doc.importance, t: doc.createdAt, n: length, w: terms };
  const tags = metadataTags(doc.metadata);
  if (tags.length > 0) fields.m = tags;
  const header = Buffer.from(JSON.stringify(fields));
  if (header.length > 0xffff) return packExact({ ...doc, content: doc.content.slice(0, doc.content.length >> 1) }, vector);
  const out = Buffer.allocUnsafe(2 + header.length + vector.byteLength);
  out.writeUInt16LE(header.length, 0);
  header.copy(out, 2);
  toBlob(vector).copy(out, 2 + header.length);
  return out;
}

export interface VectorIndex {
  readonly engine: VectorEngine;
  readonly name: string;
  /** Creates the index if missing (idempotent, never drops); adds fields a older index lacks. */
  ensure(): Promise<void>;
  writeFor(doc: VectorDoc, vector: Float32Array): VectorWrite;
  /** Keys and fields to remove a message's vector from both layouts. */
  removalFor(account: string, tenant: string, messageId: string): { docKey: string; exactKey: string };
  /** The semantic and keyword lists asked for, best first, in one round trip (QE) or one scan (exact). */
  rank(filter: VectorFilter, request: RankRequest): Promise<RankedLists>;
  /** Semantic list alone: rank() with a vector. */
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
    const rank = (filter: VectorFilter, request: RankRequest) =>
      exactRank(redis, keys.exactVectors(model, filter.account, filter.tenant), filter, request);
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
      rank,
      search: async (filter, vector, k) => (await rank(filter, { vector, depth: k })).semantic,
    };
  }

  const tag = (field: string) => [field, "TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"];
  // `text` holds our tokens (see text.ts), stemmed by the engine (English); `meta` the metadata tags.
  const added: Record<string, string[]> = { text: ["text", "TEXT"], meta: tag("meta") };
  const schema = [
    ...tag("account"), ...tag("tenant"), ...tag("conversation"), ...tag("role"),
    "importance", "NUMERIC", "created_at", "NUMERIC", ...added.text, ...added.meta,
    "vec", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", String(embedder.dimensions),
    "DISTANCE_METRIC", "COSINE", "M", String(config.HNSW_M), "EF_CONSTRUCTION", String(config.HNSW_EF_CONSTRUCTION),
  ];
  // BM25STD (newer RediSearch, Redis 8) is textbook BM25, as the exact engine; 2.6's BM25 ignores document length.
  let scorer = "BM25STD";
  // A tenant's document count (BM25's N) costs a scan of its tag: each API instance reuses it for a few seconds.
  const documentCounts = new Map<string, { count: number; at: number }>();

  const filterClause = (filter: VectorFilter) => {
    const clauses = [`@account:{${escapeTag(filter.account)}}`, `@tenant:{${escapeTag(filter.tenant)}}`];
    if (filter.conversation !== undefined) clauses.push(`@conversation:{${escapeTag(filter.conversation)}}`);
    if (filter.roles?.length) clauses.push(`@role:{${filter.roles.map(escapeTag).join("|")}}`);
    if (filter.minImportance !== undefined) clauses.push(`@importance:[${filter.minImportance} +inf]`);
    if (filter.createdAfter !== undefined || filter.createdBefore !== undefined) {
      const from = filter.createdAfter ?? "-inf";
      const to = filter.createdBefore !== undefined ? `(${filter.createdBefore}` : "+inf";
      clauses.push(`@created_at:[${from} ${to}]`);
    }
    for (const tagValue of filter.metadata ?? []) clauses.push(`@meta:{${escapeTag(tagValue)}}`);
    return `(${clauses.join(" ")})`;
  };
  const timeout = () => ["TIMEOUT", String(config.SEARCH_TIMEOUT_MS), "DIALECT", "2"];

  return {
    engine,
    name,
    async ensure() {
      let info: unknown[] | undefined;
      try {
        info = (await redis.call("FT.INFO", name)) as unknown[];
      } catch (error) {
        if (!/unknown index|no such index/i.test((error as Error).message)) throw error;
      }
      if (!info) {
        try {
          await redis.call("FT.CREATE", name, "ON", "HASH", "PREFIX", "1", keys.vectorDocPrefix(model), "SCHEMA", ...schema);
          log?.info({ index: name, dimensions: embedder.dimensions }, "created vector index");
        } catch (error) {
          if (!/already exists/i.test((error as Error).message)) throw error;
        }
      } else {
        // An index made before keyword search: add its fields (documents get them when re-indexed).
        const described = JSON.stringify(info);
        for (const [field, definition] of Object.entries(added)) {
          if (described.includes(`"attribute","${field}"`)) continue;
          await redis.call("FT.ALTER", name, "SCHEMA", "ADD", ...definition).catch((error: Error) => {
            if (!/duplicate|already exists/i.test(error.message)) throw error;
          });
          log?.warn({ index: name, field }, "added a field to an existing index; run a reindex (mode all) for older messages");
        }
      }
      // A timed-out query must fail, never return a partial result as if complete.
      await redis.call("FT.CONFIG", "SET", "ON_TIMEOUT", "FAIL").catch((error: Error) => {
        log?.warn({ err: error.message }, "could not set ON_TIMEOUT FAIL; relying on per-query TIMEOUT");
      });
      try {
        await redis.call("FT.SEARCH", name, "@account:{-}", "SCORER", scorer, "LIMIT", "0", "0", "DIALECT", "2");
      } catch {
        scorer = "BM25";
      }
    },
    writeFor: (doc, vector) => ({
      key: keys.vectorDoc(model, doc.account, doc.tenant, doc.messageId),
      mode: "hash",
      fields: [
        "mid", doc.messageId, "account", doc.account, "tenant", doc.tenant, "conversation", doc.conversation,
        "role", doc.role, "importance", String(doc.importance), "created_at", String(doc.createdAt),
        "text", tokenize(doc.content).join(" "), "meta", metadataTags(doc.metadata).join(TAG_SEPARATOR), "vec", toBlob(vector),
      ],
    }),
    removalFor,
    async rank(filter, request) {
      const pipeline = redis.pipeline();
      const where = filterClause(filter);
      const depth = String(request.depth);
      if (request.vector) {
        pipeline.call(
          "FT.SEARCH", name, `${where}=>[KNN $k @vec $blob EF_RUNTIME $ef AS dist]`,
          "PARAMS", "6", "k", depth, "blob", toBlob(request.vector), "ef", String(Math.max(config.HNSW_EF_RUNTIME, request.depth)),
          "SORTBY", "dist", "ASC", "RETURN", "2", "mid", "dist", "LIMIT", "0", depth, ...timeout(),
        );
      }
      // Keyword: one query per query word finds the messages containing it (all of them for a
      // rare word, the first `depth` for a common one) and, in its total, the word's document
      // frequency; BM25 is computed here as in the exact engine. Pipelined with the KNN query.
      const tokens = request.tokens ?? [];
      const tenantOnly = filterClause({ account: filter.account, tenant: filter.tenant });
      const filtered = where !== tenantOnly;
      const tenantKey = `${filter.account}\n${filter.tenant}`;
      const counted = documentCounts.get(tenantKey);
      const knownCount = counted && counted.at >= Date.now() - DOCUMENT_COUNT_TTL_MS ? counted.count : undefined;
      for (const token of tokens) {
        pipeline.call("FT.SEARCH", name, `${where} @text:(${escapeTag(token)})`, "SCORER", scorer, "RETURN", "2", "mid", "text", "LIMIT", "0", depth, ...timeout());
        // document frequencies are the tenant's, as in the exact engine, whatever the filters
        if (filtered) pipeline.call("FT.SEARCH", name, `${tenantOnly} @text:(${escapeTag(token)})`, "LIMIT", "0", "0", ...timeout());
      }
      if (tokens.length > 0 && knownCount === undefined) pipeline.call("FT.SEARCH", name, tenantOnly, "LIMIT", "0", "0", ...timeout());
      const replies = (await pipeline.exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
      const lists: RankedLists = { semantic: [], keyword: [] };
      let at = 0;
      if (request.vector) lists.semantic = parseHits(replies[at++][1] as unknown[], (row) => 1 - Number(row.dist));
      if (tokens.length > 0) {
        const terms = tokens.map(termOf);
        const texts = new Map<string, string>();
        const df = tokens.map(() => {
          const reply = replies[at++][1] as unknown[];
          for (const row of parseRows(reply)) texts.set(row.mid, row.text ?? "");
          return Number((filtered ? (replies[at++][1] as unknown[]) : reply)[0]);
        });
        let documents = knownCount;
        if (documents === undefined) {
          documents = Number((replies[at++][1] as unknown[])[0]);
          if (documentCounts.size >= 10_000) documentCounts.clear();
          documentCounts.set(tenantKey, { count: documents, at: Date.now() });
        }
        documents = Math.max(documents, ...df); // a remembered count may be a few seconds old
        const candidates = [...texts].map(([messageId, text]) => {
          const words = text.split(" ").filter(Boolean);
          const tf = terms.map(() => 0);
          for (const word of words) {
            const term = termOf(word);
            for (let j = 0; j < terms.length; j++) if (terms[j] === term) tf[j]++;
          }
          return { messageId, tf, length: words.length };
        });
        // The tenant's average length is not kept; the candidates' stands in for it.
        const averageLength = candidates.reduce((sum, c) => sum + c.length, 0) / Math.max(1, candidates.length);
        lists.keyword = bm25Top(candidates.filter((c) => c.tf.some((f) => f > 0)), df, documents, averageLength, request.depth);
      }
      return lists;
    },
    async search(filter, vector, k) {
      return (await this.rank(filter, { vector, depth: k })).semantic;
    },
  };
}

/** FT.SEARCH reply rows ([total, id, fields, id, fields, ...]) as field maps. */
function parseRows(reply: unknown[]): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  for (let i = 1; i + 1 < reply.length; i += 2) {
    const fields = reply[i + 1] as string[];
    const row: Record<string, string> = {};
    for (let j = 0; j + 1 < fields.length; j += 2) row[String(fields[j])] = String(fields[j + 1]);
    if (row.mid !== undefined) rows.push(row);
  }
  return rows;
}

function parseHits(reply: unknown[], score: (row: Record<string, string>) => number): VectorHit[] {
  return parseRows(reply)
    .map((row) => ({ messageId: row.mid, score: score(row) }))
    .filter((hit) => !Number.isNaN(hit.score));
}

/**
 * BM25 (k1 1.2, b 0.75) of candidates given their query-term frequencies and lengths, the
 * collection's document count, each term's document frequency and the average length; best
 * `depth` first. idf = ln(1 + (N - df + 0.5) / (df + 0.5)). Each hit also carries its coverage:
 * the IDF of the query terms it matches over the IDF of all of them.
 */
function bm25Top(candidates: { messageId: string; tf: number[]; length: number }[], df: number[], documents: number, averageLength: number, depth: number): VectorHit[] {
  const top: VectorHit[] = [];
  const idf = df.map((n) => Math.log(1 + (documents - n + 0.5) / (n + 0.5)));
  const totalIdf = idf.reduce((sum, x) => sum + x, 0);
  for (const c of candidates) {
    const norm = BM25_K1 * (1 - BM25_B + (averageLength > 0 ? (BM25_B * c.length) / averageLength : 0));
    let score = 0;
    let matched = 0;
    c.tf.forEach((f, j) => {
      if (f === 0) return;
      score += (idf[j] * f * (BM25_K1 + 1)) / (f + norm);
      matched += idf[j];
    });
    insertTop(top, { messageId: c.messageId, score, coverage: totalIdf > 0 ? matched / totalIdf : 1 }, depth);
  }
  return top;
}

/** Inserts into a list kept sorted best first and at most `depth` long. */
function insertTop(top: VectorHit[], hit: VectorHit, depth: number): void {
  if (top.length >= depth && hit.score <= top[top.length - 1].score) return;
  let at = top.length;
  while (at > 0 && top[at - 1].score < hit.score) at--;
  top.splice(at, 0, hit);
  if (top.length > depth) top.pop();
}

function passes(filter: VectorFilter, h: ExactHeader): boolean {
  if (filter.conversation !== undefined && h.c !== filter.conversation) return false;
  if (filter.roles?.length && !filter.roles.includes(h.r)) return false;
  if (filter.minImportance !== undefined && h.i < filter.minImportance) return false;
  if (filter.createdAfter !== undefined && (h.t === undefined || h.t < filter.createdAfter)) return false;
  if (filter.createdBefore !== undefined && (h.t === undefined || h.t >= filter.createdBefore)) return false;
  if (filter.metadata?.length && !filter.metadata.every((tagValue) => h.m?.includes(tagValue))) return false;
  return true;
}

/**
 * Exact search over one tenant's entries, read with HSCAN in chunks so no single command blocks
 * Redis for long. One pass serves both lists: cosine similarity (vectors are unit length, so the
 * dot product) and BM25, whose statistics (document count, average length, each query term's
 * document frequency) are counted over the whole tenant in the same pass.
 */
async function exactRank(redis: Redis, key: string, filter: VectorFilter, request: RankRequest): Promise<RankedLists> {
  const { vector, depth } = request;
  const terms = [...new Set((request.tokens ?? []).map(termOf))];
  const semantic: VectorHit[] = [];
  const candidates: { messageId: string; tf: number[]; length: number }[] = [];
  const df = new Array<number>(terms.length).fill(0);
  let documents = 0;
  let totalLength = 0;
  const seen = new Set<string>();
  const scratch = vector ? new Float32Array(vector.length) : undefined;
  let cursor = "0";
  do {
    const [next, entries] = await redis.hscanBuffer(key, cursor, "COUNT", EXACT_SCAN_CHUNK);
    cursor = next.toString();
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const messageId = entries[i].toString();
      // HSCAN may return an entry twice (while the hash is rehashed): count and rank it once.
      if (seen.has(messageId)) continue;
      seen.add(messageId);
      const packed = entries[i + 1];
      const headerLength = packed.readUInt16LE(0);
      const header = JSON.parse(packed.toString("utf8", 2, 2 + headerLength)) as ExactHeader;
      documents++;
      totalLength += header.n ?? 0;
      let matched = false;
      const tf = terms.map((term, j) => {
        const f = header.w?.[term] ?? 0;
        if (f > 0) {
          df[j]++;
          matched = true;
        }
        return f;
      });
      if (!passes(filter, header)) continue;
      if (matched) candidates.push({ messageId, tf, length: header.n ?? 0 });
      if (!vector || !scratch) continue;
      const offset = 2 + headerLength;
      const dims = (packed.length - offset) / 4;
      if (dims !== vector.length) continue;
      // copy into an aligned buffer: a Float32Array view needs a 4-byte aligned offset
      new Uint8Array(scratch.buffer, 0, dims * 4).set(packed.subarray(offset));
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += scratch[d] * vector[d];
      insertTop(semantic, { messageId, score: dot }, depth);
    }
  } while (cursor !== "0");

  const keyword = bm25Top(candidates, df, documents, documents > 0 ? totalLength / documents : 0, depth);
  return { semantic, keyword };
}
