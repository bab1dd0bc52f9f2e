import { afterAll, describe, expect, test } from "bun:test";
import type { Envelope } from "../../src/events/model";
import { createOpenAiEmbedder } from "../../src/store/embeddings";
import { subscribeEvents } from "../helpers/processes";
import { serverEnv } from "../helpers/redis";
import { eventually, testConfig, useHarness } from "../helpers/app";
import { startFakeOpenAi } from "../helpers/fake-openai";

const fake = startFakeOpenAi(64);
const h = useHarness(
  {
    EMBEDDING_PROVIDER: "openai",
    EMBEDDING_MODEL: "text-embedding-3-small",
    EMBEDDING_DIMENSIONS: "64",
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: "sk-test-not-a-real-key",
    EMBED_BATCH_WAIT_MS: "10",
    EMBED_BACKOFF_MS: "100",
    EMBED_BACKOFF_MAX_MS: "400",
    EMBED_MAX_ATTEMPTS: "4",
  },
  { worker: true },
);
afterAll(() => fake.stop());

const statusOf = async (token: string, id: string) => (await h.json("GET", `/v1/messages/${id}`, { token })).body;

describe("OpenAI-compatible provider (against a local stand-in)", () => {
  test("batches texts into one call with model, key and dimensions; vectors are unit length", async () => {
    fake.mode = "ok";
    fake.requests.length = 0;
    const embedder = createOpenAiEmbedder(testConfig(h.redisUrl, { OPENAI_BASE_URL: fake.url, EMBEDDING_MODEL: "text-embedding-3-small", EMBEDDING_DIMENSIONS: "64", OPENAI_API_KEY: "sk-x" }));
    const vectors = await embedder.embed(["one text", "another text", "third"]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toEqual({ input: ["one text", "another text", "third"], model: "text-embedding-3-small", auth: "Bearer sk-x" });
    expect(vectors).toHaveLength(3);
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(embedder.modelKey).toBe("openai-text-embedding-3-small-64");
  });

  test("a wrong dimension from the provider is an error, not a silent mismatch", async () => {
    fake.mode = "ok";
    const embedder = createOpenAiEmbedder(testConfig(h.redisUrl, { OPENAI_BASE_URL: fake.url, EMBEDDING_DIMENSIONS: "32" }));
    await expect(embedder.embed(["x"])).rejects.toThrow(/64 dimensions; EMBEDDING_DIMENSIONS is 32/);
  });

  test("a 429 is retried after its Retry-After within the same call", async () => {
    fake.mode = "rate-limited";
    fake.requests.length = 0;
    const embedder = createOpenAiEmbedder(testConfig(h.redisUrl, { OPENAI_BASE_URL: fake.url, EMBEDDING_DIMENSIONS: "64" }));
    const pending = embedder.embed(["later"]);
    await eventually("a rate-limited request", () => fake.requests.length >= 1);
    fake.mode = "ok";
    expect(await pending).toHaveLength(1);
    expect(fake.requests.length).toBeGreaterThanOrEqual(2);
  });
});

describe("embedder outage", () => {
  test("ingest keeps accepting while the embedder is down; messages wait, then all get indexed", async () => {
    const { token } = await h.account();
    fake.mode = "down";
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "t", conversation_id: "c", role: "user", content: `note ${i} about outages` } });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    // Retried while down (a second failed attempt at the first text), and still waiting, not failed.
    await eventually("a retry while down", () => fake.requests.filter((r) => r.input.includes("note 0 about outages")).length >= 2);
    for (const id of ids) expect((await statusOf(token, id)).status).toBe("pending");
    fake.mode = "ok";
    await eventually("all indexed", async () => (await Promise.all(ids.map((id) => statusOf(token, id)))).every((m) => m.status === "indexed"));
    const search = await h.json("GET", "/v1/memory/search?tenant_id=t&query=outages&top_k=10", { token });
    expect(search.body.results).toHaveLength(5);
  });

  test("after the last attempt a message is failed with the reason and message.failed is published; reindex re-drives it", async () => {
    const { token } = await h.account();
    const events: Envelope[] = [];
    const unsubscribe = await subscribeEvents(h.redisUrl, (e) => events.push(e));
    fake.mode = "down";
    const { body } = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "f", conversation_id: "c", role: "user", content: "doomed for now" } });
    const failed = await eventually("failed", async () => {
      const m = await statusOf(token, body.id);
      return m.status === "failed" ? m : undefined;
    });
    expect(failed.error).toContain("503");
    await eventually("message.failed event", () => events.some((e) => e.event.type === "message.failed" && e.event.message.id === body.id));

    fake.mode = "ok";
    const re = await h.json("POST", "/v1/memory/reindex", { token, body: { tenant_id: "f", mode: "failed" } });
    expect(re.status).toBe(202);
    expect(re.body).toEqual({ queued: 1 });
    await eventually("indexed after reindex", async () => (await statusOf(token, body.id)).status === "indexed");
    expect((await statusOf(token, body.id)).error).toBeNull();
    await unsubscribe();
  });

  test("bun run reindex re-drives failed messages from the command line", async () => {
    const { token, userId } = await h.account();
    fake.mode = "down";
    const { body } = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "cli", conversation_id: "c", role: "user", content: "retry me from the CLI" } });
    await eventually("failed", async () => (await statusOf(token, body.id)).status === "failed");
    fake.mode = "ok";
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>), ...serverEnv(), REDIS_URL: h.redisUrl, EMBEDDING_PROVIDER: "openai", EMBEDDING_MODEL: "text-embedding-3-small",
      EMBEDDING_DIMENSIONS: "64", OPENAI_BASE_URL: fake.url, LOG_LEVEL: "error", NODE_ENV: "test",
    };
    const root = new URL("../..", import.meta.url).pathname;
    const cli = Bun.spawn(["bun", `${root}workers/reindex.ts`, "--account", userId, "--tenant", "cli", "--mode", "failed"], { env, stdout: "pipe", stderr: "pipe" });
    expect(await cli.exited).toBe(0);
    await eventually("indexed after the CLI", async () => (await statusOf(token, body.id)).status === "indexed");
    const usage = Bun.spawnSync(["bun", `${root}workers/reindex.ts`, "--mode", "bogus"], { env });
    expect(usage.exitCode).toBe(2);
    expect(usage.stdout.toString()).toContain("--switch-model");
  });

  test("input the provider rejects (400) fails at once instead of retrying", async () => {
    const { token } = await h.account();
    fake.mode = "bad-request";
    fake.requests.length = 0;
    const { body } = await h.json("POST", "/v1/messages", { token, body: { tenant_id: "b", conversation_id: "c", role: "user", content: "rejected" } });
    const m = await eventually("failed", async () => {
      const s = await statusOf(token, body.id);
      return s.status === "failed" ? s : undefined;
    });
    expect(m.error).toContain("400");
    expect(fake.requests).toHaveLength(1);
    fake.mode = "ok";
  });
});
