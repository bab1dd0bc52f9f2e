import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { useHarness } from "../../../test/helpers/app";
import { startFakeOpenAi } from "../../../test/helpers/fake-openai";
import { MemoryMeshClient, MemoryMeshError } from "../src/index";
import { listen } from "./support";

/**
 * waitForIndexed when indexing fails or takes long. The embedder is an OpenAI-compatible stand-in
 * (the outside world, the one thing the suite fakes) that can refuse input for good or be down;
 * server, Redis and worker are real.
 */
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
    EMBED_MAX_ATTEMPTS: "12",
  },
  { worker: true },
);
afterAll(() => fake.stop());
let base = "";

beforeAll(() => {
  base = listen(h.app);
  h.cleanup(() => h.app.stop(true));
});

async function newClient() {
  const account = await h.account("indexing");
  return new MemoryMeshClient({ baseUrl: base, accessToken: account.token, refreshToken: account.refresh });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

const input = (content: string) => ({ tenant_id: "app", conversation_id: "chat", role: "user" as const, content });

describe("waitForIndexed", () => {
  test("a message that failed to index throws indexing_failed with its error; reindex (failed) brings it back", async () => {
    const client = await newClient();
    fake.mode = "bad-request";
    const stored = await client.messages.store(input("the embedder refuses this"));
    const error = await failure(client.messages.waitForIndexed([stored], { timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(MemoryMeshError);
    const failed = error as MemoryMeshError;
    expect({ status: failed.status, code: failed.code, message: failed.message }).toEqual({
      status: 0,
      code: "indexing_failed",
      message: expect.stringContaining("embedding endpoint answered 400"),
    });
    expect(failed.details).toEqual({ ...stored, status: "failed", error: failed.message });

    fake.mode = "ok";
    expect(await client.reindex({ tenant_id: "app", mode: "failed" })).toEqual({ queued: 1 });
    const [indexed] = await client.messages.waitForIndexed(stored.id, { timeoutMs: 20_000 });
    expect(indexed).toMatchObject({ id: stored.id, status: "indexed", error: null });
  });

  test("past its timeout it throws timeout, naming the messages still pending; a signal aborts it", async () => {
    const client = await newClient();
    fake.mode = "down";
    const { created } = await client.messages.storeBatch([input("waiting one"), input("waiting two")]);
    const error = await failure(client.messages.waitForIndexed(created, { timeoutMs: 300 }));
    expect(error).toBeInstanceOf(MemoryMeshError);
    expect(error).toMatchObject({ status: 0, code: "timeout", details: { pending: created.map((m) => m.id) } });

    const controller = new AbortController();
    const waiting = failure(client.messages.waitForIndexed(created, { signal: controller.signal }));
    controller.abort(new Error("no longer needed"));
    expect(await waiting).toEqual(new Error("no longer needed"));

    fake.mode = "ok";
    const indexed = await client.messages.waitForIndexed(created, { timeoutMs: 20_000 });
    expect(indexed.map((m) => [m.id, m.status])).toEqual(created.map((m) => [m.id, "indexed"]));
  });
});
