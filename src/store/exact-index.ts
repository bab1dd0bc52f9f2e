import type { RedisClient } from "./redis";
import { type Bm25Candidate, bm25Top, insertTop } from "./bm25";
import { metadataTags, termFrequencies, termOf } from "./text";
import { toBlob } from "./embeddings";
import { keys } from "./keys";
import type { RankedLists, RankRequest, VectorDoc, VectorFilter, VectorHit, VectorIndex } from "./vector-index";

/**
 * The exact engine (plain Redis, no search module): one HASH per tenant, field = message id,
 * value = a packed entry; searched by scanning the tenant.
 */
const EXACT_SCAN_CHUNK = 1000;

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

/** The FLOAT32 bytes of a packed entry's vector. */
export function unpackExactVector(packed: Buffer): Buffer {
  return packed.subarray(2 + packed.readUInt16LE(0));
}

/**
 * Lua: `rewrite_exact_filters(key, field, importance, tags_json)` changes an exact-engine entry's
 * importance and/or metadata tags (false = keep) in place, keeping its vector and keyword
 * statistics, so a metadata or importance update needs no new embedding. Same packing as packExact.
 */
export const REWRITE_EXACT_FILTERS_LUA = `
local function rewrite_exact_filters(key, field, importance, tags_json)
  local packed = redis.call('HGET', key, field)
  if not packed then return end
  local n = string.byte(packed, 1) + string.byte(packed, 2) * 256
  local header = cjson.decode(string.sub(packed, 3, 2 + n))
  if importance then header.i = tonumber(importance) end
  if tags_json then
    local tags = cjson.decode(tags_json)
    if #tags > 0 then header.m = tags else header.m = nil end
  end
  local encoded = cjson.encode(header)
  if #encoded > 65535 then return redis.error_reply('exact entry header too large') end
  redis.call('HSET', key, field, string.char(#encoded % 256, math.floor(#encoded / 256)) .. encoded .. string.sub(packed, 3 + n))
end
`;

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
export async function exactRank(redis: RedisClient, key: string, filter: VectorFilter, request: RankRequest): Promise<RankedLists> {
  const { vector, depth } = request;
  const terms = (request.tokens ?? []).map(termOf);
  const semantic: VectorHit[] = [];
  const candidates: Bm25Candidate[] = [];
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

/** The exact engine behind the VectorIndex interface (createVectorIndex picks it when Redis has no vector search). */
export function createExactIndex(redis: RedisClient, model: string, removalFor: VectorIndex["removalFor"]): VectorIndex {
  const rank = (filter: VectorFilter, request: RankRequest) => exactRank(redis, keys.exactVectors(model, filter.account, filter.tenant), filter, request);
  return {
    engine: "exact",
    name: `exact:${model}`,
    ensure: async () => undefined,
    writeFor: (doc, vector) => ({
      key: keys.exactVectors(model, doc.account, doc.tenant),
      mode: "field",
      fields: [doc.messageId, packExact(doc, vector)],
    }),
    removalFor,
    async readVectors(account, tenant, messageIds) {
      if (messageIds.length === 0) return [];
      const packed = await redis.hmgetBuffer(keys.exactVectors(model, account, tenant), ...messageIds);
      return packed.map((entry) => (entry ? unpackExactVector(entry) : null));
    },
    rank,
    search: async (filter, vector, k) => (await rank(filter, { vector, depth: k })).semantic,
  };
}
