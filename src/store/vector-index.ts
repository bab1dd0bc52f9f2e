import { mastersOf, type RedisClient } from "./redis";
import type { Config } from "../config";
import type { Logger } from "../log";
import { type Embedder, toBlob } from "./embeddings";
import { keys } from "./keys";
import { whenClusterReady } from "./vector-support";
import { bm25Top } from "./bm25";
import { createExactIndex } from "./exact-index";
import { metadataTags, termOf, tokenize } from "./text";

export type VectorEngine = "query-engine" | "exact";

/** A search that matches nothing, for probes (a tag value that parses everywhere: `{-}` is a syntax error to a coordinator). */
const NO_ACCOUNT = "@account:{mm_probe}";

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
const DOCUMENT_COUNT_TTL_MS = 10_000;

/** The Query Engine document's `meta` TAG field of a message's metadata. */
export const metaField = (metadata: Record<string, unknown> | null | undefined) => metadataTags(metadata).join(TAG_SEPARATOR);

/** Escapes a TAG value for DIALECT 2 queries: every ASCII character but letters, digits and `_`. */
export function escapeTag(value: string): string {
  return value.replace(/[^A-Za-z0-9_\u0080-\uffff]/g, (c) => `\\${c}`);
}

export interface VectorIndex {
  readonly engine: VectorEngine;
  readonly name: string;
  /** Creates the index if missing (idempotent, never drops); adds fields a older index lacks. */
  ensure(): Promise<void>;
  writeFor(doc: VectorDoc, vector: Float32Array): VectorWrite;
  /** Keys and fields to remove a message's vector from both layouts. */
  removalFor(account: string, tenant: string, messageId: string): { docKey: string; exactKey: string };
  /** The stored vectors of a tenant's messages (FLOAT32 bytes), in order; null where there is none. */
  readVectors(account: string, tenant: string, messageIds: string[]): Promise<(Buffer | null)[]>;
  /** The semantic and keyword lists asked for, best first, in one round trip (QE) or one scan (exact). */
  rank(filter: VectorFilter, request: RankRequest): Promise<RankedLists>;
  /** Semantic list alone: rank() with a vector. */
  search(filter: VectorFilter, vector: Float32Array, k: number): Promise<VectorHit[]>;
}

export function createVectorIndex(
  redis: RedisClient,
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

  if (engine === "exact") return createExactIndex(redis, model, removalFor);

  const tag = (field: string) => [field, "TAG", "SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"];
  // `text` holds our tokens (see text.ts), stemmed by the engine (English); `meta` the metadata tags.
  const added: Record<string, string[]> = { text: ["text", "TEXT"], meta: tag("meta") };
  const schema = [
    ...tag("account"), ...tag("tenant"), ...tag("conversation"), ...tag("role"),
    "importance", "NUMERIC", "created_at", "NUMERIC", ...added.text, ...added.meta,
    "vec", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", String(embedder.dimensions),
    "DISTANCE_METRIC", "COSINE", "M", String(config.HNSW_M), "EF_CONSTRUCTION", String(config.HNSW_EF_CONSTRUCTION),
  ];
  // BM25STD (newer RediSearch, RedisClient 8) is textbook BM25, as the exact engine; 2.6's BM25 ignores document length.
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
        info = (await whenClusterReady(() => redis.call("FT.INFO", name))) as unknown[];
      } catch (error) {
        if (!/unknown index|no such index/i.test((error as Error).message)) throw error;
      }
      if (!info) {
        try {
          await whenClusterReady(() => redis.call("FT.CREATE", name, "ON", "HASH", "PREFIX", "1", keys.vectorDocPrefix(model), "SCHEMA", ...schema));
          log?.info({ index: name, dimensions: embedder.dimensions }, "created vector index");
        } catch (error) {
          if (!/already exists/i.test((error as Error).message)) throw error;
        }
      } else {
        // An index made before keyword search: add its fields (documents get them when re-indexed).
        const described = JSON.stringify(info);
        for (const [field, definition] of Object.entries(added)) {
          if (described.includes(`"attribute","${field}"`)) continue;
          await whenClusterReady(() => redis.call("FT.ALTER", name, "SCHEMA", "ADD", ...definition)).catch((error: Error) => {
            if (!/duplicate|already exists/i.test(error.message)) throw error;
          });
          log?.warn({ index: name, field }, "added a field to an existing index; run a reindex (mode all) for older messages");
        }
      }
      // A timed-out query must fail, never return a partial result as if complete.
      await redis.call("FT.CONFIG", "SET", "ON_TIMEOUT", "FAIL").catch((error: Error) => {
        log?.warn({ err: error.message }, "could not set ON_TIMEOUT FAIL; relying on per-query TIMEOUT");
      });
      // A new cluster's coordinators learn the topology one node at a time, and a search may reach any
      // of them: wait until every master's can search.
      for (const node of mastersOf(redis)) {
        await whenClusterReady(() => node.call("FT.SEARCH", name, NO_ACCOUNT, "LIMIT", "0", "0", "DIALECT", "2"));
      }
      try {
        await whenClusterReady(() => redis.call("FT.SEARCH", name, NO_ACCOUNT, "SCORER", scorer, "LIMIT", "0", "0", "DIALECT", "2"));
      } catch (error) {
        // Only a module without BM25STD falls back; any other failure is not about the scorer.
        if (!/scorer/i.test((error as Error).message)) throw error;
        scorer = "BM25";
      }
    },
    writeFor: (doc, vector) => ({
      key: keys.vectorDoc(model, doc.account, doc.tenant, doc.messageId),
      mode: "hash",
      fields: [
        "mid", doc.messageId, "account", doc.account, "tenant", doc.tenant, "conversation", doc.conversation,
        "role", doc.role, "importance", String(doc.importance), "created_at", String(doc.createdAt),
        "text", tokenize(doc.content).join(" "), "meta", metaField(doc.metadata), "vec", toBlob(vector),
      ],
    }),
    removalFor,
    async readVectors(account, tenant, messageIds) {
      const pipeline = redis.pipeline();
      for (const id of messageIds) pipeline.hgetBuffer(keys.vectorDoc(model, account, tenant, id), "vec");
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([error, value]) => (error ? null : ((value as Buffer | null) ?? null)));
    },
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

