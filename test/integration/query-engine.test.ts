import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config";
import { closeDeps, createDeps, type Deps } from "../../src/deps";
import { createLogger } from "../../src/log";
import type { Embedder } from "../../src/store/embeddings";
import { normalize } from "../../src/store/embeddings";
import { keys } from "../../src/store/keys";
import { createVectorIndex, type VectorDoc, type VectorFilter, type VectorHit } from "../../src/store/vector-index";
import { eventually, testConfig } from "../helpers/app";
import { hasVectorSearchAt, onCluster, serverEnv, startTestServer } from "../helpers/redis";

/**
 * Query Engine (HNSW) path, on a private redis-server started with TEST_REDIS_ARGS (e.g.
 * `--loadmodule /path/to/redisearch.so`), or a private cluster under TEST_REDIS_CLUSTER (with
 * TEST_CLUSTER_ARGS loading the coordinator); never on a Redis the user already runs, whatever
 * REDIS_URL says. Skipped, saying so, when that server has no vector search.
 */
const server = await startTestServer();
const url = server.url;
const supported = await hasVectorSearchAt(url, onCluster());
if (!supported) {
  process.stderr.write("\n[query-engine] SKIPPED: the test redis-server has no vector search. Set TEST_REDIS_ARGS='--loadmodule /path/redisearch.so'.\n");
}
afterAll(async () => {
  await server.stop();
});

const DIMS = 512;
function seeded(seed: number) {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const rand = seeded(42);
const centers = Array.from({ length: 12 }, () => Float32Array.from({ length: DIMS }, rand));
const near = (c: Float32Array) => normalize(c.map((x) => x + rand() * 0.6));
const fakeEmbedder = (modelKey: string): Embedder => ({ modelKey, dimensions: DIMS, embed: async (t) => t.map(() => near(centers[0])) });

describe.skipIf(!supported)("Redis Query Engine", () => {
  let deps: Deps;
  const log = createLogger("silent");
  const config = testConfig(url, serverEnv());
  const account = "acct-qe";
  const MODEL = "local-use-lite-512";

  beforeAll(async () => {
    deps = await createDeps(config, { log });
  });
  afterAll(async () => {
    await closeDeps(deps);
  });

  test("is detected and its index is created with the embedder's dimension", async () => {
    expect(deps.vectors.engine).toBe("query-engine");
    const info = (await deps.redis.call("FT.INFO", deps.vectors.name)) as unknown[];
    const text = JSON.stringify(info);
    expect(text).toContain(`"prefixes",["${keys.vectorDocPrefix(MODEL)}"]`);
    expect(text).toContain('"attribute","vec","type","VECTOR"');
    expect(deps.vectors.name).toBe(keys.vectorIndex(MODEL));
  });

  test("gives the same answers as the exact engine, filters and odd tag values included", async () => {
    const exact = createVectorIndex(deps.redis, "exact", deps.embedder, config);
    const tenants = ["team-a.b@c:d e", "team-a", "x|y{z}*"];
    const docs: (VectorDoc & { vector: Float32Array })[] = [];
    for (let i = 0; i < 600; i++) {
      docs.push({
        account, tenant: tenants[i % 3], conversation: `conv:${i % 4}-@ x`, role: i % 2 ? "assistant" : "user",
        importance: (i % 10) / 10, createdAt: Date.now(), content: `doc ${i}`, messageId: `m-${i}`, vector: near(centers[i % 12]),
      });
    }
    const pipeline = deps.redis.pipeline();
    for (const d of docs) {
      for (const index of [deps.vectors, exact]) {
        const w = index.writeFor(d, d.vector);
        if (w.mode === "hash") pipeline.hset(w.key, ...(w.fields as [string, string]));
        else pipeline.hset(w.key, w.fields[0] as string, w.fields[1] as Buffer);
      }
    }
    await pipeline.exec();

    let recallSum = 0;
    let queries = 0;
    for (let q = 0; q < 30; q++) {
      const filter: VectorFilter = { account, tenant: tenants[q % 3] };
      if (q % 4 === 1) filter.conversation = `conv:${q % 4}-@ x`;
      if (q % 5 === 2) filter.roles = ["assistant"];
      if (q % 3 === 0) filter.minImportance = 0.5;
      const vector = near(centers[q % 12]);
      const truth = await exact.search(filter, vector, 10);
      const got = await deps.vectors.search(filter, vector, 10);
      expect(got.length).toBe(truth.length);
      const truthIds = new Map(truth.map((t) => [t.messageId, t.score]));
      const common = got.filter((g) => truthIds.has(g.messageId));
      for (const g of common) expect(g.score).toBeCloseTo(truthIds.get(g.messageId) as number, 4);
      for (const g of got) {
        const d = docs.find((x) => x.messageId === g.messageId) as VectorDoc;
        expect(d.tenant).toBe(filter.tenant);
        if (filter.conversation) expect(d.conversation).toBe(filter.conversation);
        if (filter.roles) expect(filter.roles).toContain(d.role);
        if (filter.minImportance !== undefined) expect(d.importance).toBeGreaterThanOrEqual(filter.minImportance);
      }
      recallSum += truth.length ? common.length / truth.length : 1;
      queries++;
    }
    expect(recallSum / queries).toBeGreaterThanOrEqual(0.95);
    expect(await deps.vectors.search({ account, tenant: "team-*" }, near(centers[0]), 10)).toEqual([]);
    expect(await deps.vectors.search({ account: "someone-else", tenant: tenants[0] }, near(centers[0]), 10)).toEqual([]);
  });

  test("keyword lists equal the exact engine's: same BM25, coverage and filters", async () => {
    const exact = createVectorIndex(deps.redis, "exact", fakeEmbedder(MODEL), config);
    const words = ["basel", "museum", "painting", "hiking", "skiing", "violin", "puppy", "garden", "recipe", "concert", "runner", "tennis"];
    // every document has 6 words (no stopwords), so the engines' average lengths agree and scores are equal
    const docs: VectorDoc[] = Array.from({ length: 40 }, (_, i) => ({
      account, tenant: "kw", conversation: `c${i % 3}`, role: i % 2 ? "assistant" : "user", importance: 0.5, createdAt: 1_000 + i,
      content: Array.from({ length: 6 }, (_, j) => words[(i * 7 + j * j * 3) % (j < 3 ? 12 : 4)]).join(" ").replace(/^(\w+)/, (w) => (i % 5 === 0 ? `${w.toUpperCase()}s` : w)),
      messageId: `kw-${i}`, metadata: { n: i % 4 },
    }));
    const pipeline = deps.redis.pipeline();
    for (const d of docs) for (const w of [deps.vectors.writeFor(d, near(centers[2])), exact.writeFor(d, near(centers[2]))]) pipeline.hset(w.key, ...(w.fields as [string, Buffer]));
    await pipeline.exec();
    await eventually("the index to catch up", async () => {
      const info = (await deps.redis.call("FT.INFO", deps.vectors.name)) as unknown[];
      return String(info[info.indexOf("indexing") + 1]) === "0";
    });
    let compared = 0;
    const filters: Partial<VectorFilter>[] = [{}, { roles: ["assistant"] }, { conversation: "c1", metadata: ["n=2"] }, { createdAfter: 1_010, createdBefore: 1_030 }];
    for (const tokens of [["basel"], ["museum", "painting"], ["skiing", "puppies", "concerts"], ["basels", "hiking", "zebra"]]) {
      for (const extra of filters) {
        const filter = { account, tenant: "kw", ...extra };
        const want = (await exact.rank(filter, { tokens, depth: 50 })).keyword; // deeper than the tenant: no cut among ties
        const got = (await deps.vectors.rank(filter, { tokens, depth: 50 })).keyword;
        expect(got.map((h) => h.messageId).sort()).toEqual(want.map((h) => h.messageId).sort());
        for (const h of got) {
          const w = want.find((x) => x.messageId === h.messageId) as VectorHit;
          expect(h.score).toBeCloseTo(w.score, 6);
          expect(h.coverage as number).toBeCloseTo(w.coverage as number, 9);
        }
        if (Object.keys(extra).length === 0) expect(want.length).toBeGreaterThan(0);
        compared += want.length;
      }
    }
    expect(compared).toBeGreaterThan(50);
  });

  test("a restart keeps the index and its documents; another model refuses to start", async () => {
    const pipeline = deps.redis.pipeline();
    for (let i = 0; i < 8; i++) {
      const doc: VectorDoc = { account, tenant: "restart", conversation: "c", role: "user", importance: 0.5, createdAt: 1_000 + i, content: `kept ${i}`, messageId: `r-${i}` };
      const w = deps.vectors.writeFor(doc, near(centers[i % 3]));
      pipeline.hset(w.key, ...(w.fields as [string, Buffer]));
    }
    await pipeline.exec();
    const query = near(centers[1]);
    const before = await deps.vectors.search({ account, tenant: "restart" }, query, 5);
    expect(before).toHaveLength(5);
    const again = await createDeps(config, { log });
    try {
      expect(again.vectors.engine).toBe("query-engine");
      expect(await again.vectors.search({ account, tenant: "restart" }, query, 5)).toEqual(before);
    } finally {
      await closeDeps(again);
    }
    await expect(createDeps(config, { log, embedder: fakeEmbedder("other-model-384") })).rejects.toThrow(ConfigError);
    await expect(createDeps(config, { log, embedder: fakeEmbedder("other-model-384") })).rejects.toThrow(/reindex --switch-model/);
  });
});

test("model mismatch refuses to start on any engine", async () => {
  const redis = await startTestServer();
  try {
    const config = testConfig(redis.url, serverEnv());
    const first = await createDeps(config, { log: createLogger("silent"), embedder: fakeEmbedder("model-a-512") });
    await closeDeps(first);
    await expect(createDeps(config, { log: createLogger("silent"), embedder: fakeEmbedder("model-b-512") })).rejects.toThrow(/stored vectors were made by "model-a-512"/);
  } finally {
    await redis.stop();
  }
});
