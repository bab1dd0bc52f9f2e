import { beforeEach, describe, expect, test } from "bun:test";
import { startDispatcher } from "../../src/memory/dispatcher";
import { sweepOutbox } from "../../src/memory/outbox";
import { startIndexingWorker } from "../../src/memory/worker";
import { createLocalEmbedder, type Embedder } from "../../src/store/embeddings";
import { allShards, keys, outboxMember } from "../../src/store/keys";
import { queueOf } from "../../src/store/queue";
import { eventually, useHarness } from "../helpers/app";

const HOUR = 3_600_000;
/** EMBED_BATCH_SIZE: each test accepts one job's worth of messages. */
const BATCH = 8;

/** The local model, counting how often each text is embedded. */
const embedded = new Map<string, number>();
const local = createLocalEmbedder();
const countingEmbedder: Embedder = {
  modelKey: local.modelKey,
  dimensions: local.dimensions,
  embed(texts) {
    for (const text of texts) embedded.set(text, (embedded.get(text) ?? 0) + 1);
    return local.embed(texts);
  },
  close: () => local.close?.() ?? Promise.resolve(),
};

// The workers' own sweepers never come round (one an hour); each test sweeps by hand, as of `now`.
const h = useHarness({ OUTBOX_REDRIVE_MS: String(HOUR), EMBED_BATCH_SIZE: String(BATCH), EMBED_BATCH_WAIT_MS: "10" }, { embedder: countingEmbedder });

/** One sweep as of `now` (default: two hours from now, so every message and job id is old enough). */
async function sweep(now = Date.now() + 2 * HOUR): Promise<number> {
  for (const k of allShards()) await h.deps.redis.del(keys.outboxLock(k));
  return sweepOutbox(h.deps, "test", now);
}

const ONCE = Array(BATCH).fill(1);

interface Accepted {
  account: string;
  ids: string[];
  contents: string[];
}

async function accept(tag: string): Promise<Accepted> {
  const { token, userId } = await h.account();
  const contents = Array.from({ length: BATCH }, (_, i) => `${tag}: fact number ${i} about the garden`);
  const { status, body } = await h.json("POST", "/v1/messages/batch", {
    token,
    body: { messages: contents.map((content) => ({ tenant_id: "t", conversation_id: "c", role: "user", content })) },
  });
  expect(status).toBe(202);
  return { account: userId, ids: body.created.map((m: { id: string }) => m.id), contents };
}

const timesEmbedded = (contents: string[]) => contents.map((text) => embedded.get(text) ?? 0);

/** Jobs yet to run, over every shard's queue. */
async function liveJobs(): Promise<Record<string, number>> {
  const counts = await Promise.all(h.deps.queues.map((q) => q.getJobCounts("waiting", "active", "delayed")));
  return Object.fromEntries(["waiting", "active", "delayed"].map((state) => [state, counts.reduce((n, c) => n + (c[state] ?? 0), 0)]));
}
const statuses = (account: string, ids: string[]) => Promise.all(ids.map((id) => h.deps.redis.hget(keys.message(account, id), "status")));

const NO_JOBS = { waiting: 0, active: 0, delayed: 0 };
const ONE_JOB = { waiting: 1, active: 0, delayed: 0 };

/** Runs a dispatcher until `done` holds. */
async function dispatchUntil(what: string, done: () => Promise<boolean>): Promise<void> {
  const dispatcher = startDispatcher(h.deps);
  try {
    await eventually(what, done);
  } finally {
    await dispatcher.close();
  }
}

/** Runs a worker until the messages are indexed and no job is left. */
async function indexAll(account: string, ids: string[]): Promise<void> {
  const worker = startIndexingWorker(h.deps);
  try {
    await eventually(
      "all indexed, no job left",
      async () => (await statuses(account, ids)).every((s) => s === "indexed") && Object.values(await liveJobs()).every((n) => n === 0),
      60_000,
    );
  } finally {
    await worker.close();
  }
}

/** Indexes the messages (see indexAll), then tells how many times each was embedded. */
async function indexAndCount({ account, ids, contents }: Accepted): Promise<number[]> {
  await indexAll(account, ids);
  return timesEmbedded(contents);
}

describe("outbox sweeper", () => {
  // A sweep sees every account's messages: each test starts with no job, outbox or dispatch entry.
  beforeEach(async () => {
    await Promise.all(h.deps.queues.map((q) => q.obliterate({ force: true })));
    for (const k of allShards()) await h.deps.redis.del(keys.outbox(k), keys.dispatch(k)); // one shard: one slot
  });

  test("a job that completes while the sweeper looks at its messages is not queued again", async () => {
    const { account, ids, contents } = await accept("completes");
    await dispatchUntil("job queued", async () => (await liveJobs()).waiting === 1);
    const queue = queueOf(h.deps.queues, account);
    const getJobState = queue.getJobState.bind(queue);
    // The sweeper has read the messages (pending, with their job id); the job completes before it asks about the job.
    queue.getJobState = async (jobId: string) => {
      await indexAll(account, ids);
      return getJobState(jobId);
    };
    try {
      expect(await sweep()).toBe(0);
    } finally {
      queue.getJobState = getJobState;
    }
    expect(await liveJobs()).toEqual(NO_JOBS);
    expect(await h.deps.redis.zcard(keys.outboxOf(account))).toBe(0);
    expect(timesEmbedded(contents)).toEqual(ONCE);
  }, 90_000);

  test("messages still in the dispatch list are left to the dispatchers, and embedded once", async () => {
    const accepted = await accept("waiting");
    expect(await sweep()).toBe(0);
    expect(await h.deps.redis.llen(keys.dispatchOf(accepted.account))).toBe(BATCH);
    expect(await liveJobs()).toEqual(NO_JOBS);
    expect(await indexAndCount(accepted)).toEqual(ONCE);
  }, 90_000);

  test("a job a dispatcher is adding right now is left alone; if it never appears, its messages are queued again", async () => {
    const accepted = await accept("adding");
    // Accepted two hours ago: the dispatch list was backed up.
    for (const id of accepted.ids) await h.deps.redis.zadd(keys.outboxOf(accepted.account), "XX", Date.now() - 2 * HOUR, outboxMember(accepted.account, id));
    const queue = queueOf(h.deps.queues, accepted.account);
    const addBulk = queue.addBulk;
    let dieHere: (() => void) | undefined;
    // The dispatcher's addBulk never completes (until dieHere: no job added); later ones do.
    queue.addBulk = (() => {
      queue.addBulk = addBulk;
      return new Promise((resolve) => (dieHere = () => resolve([])));
    }) as typeof addBulk;
    const dispatcher = startDispatcher(h.deps);
    try {
      await eventually("the dispatcher claimed the messages and is adding their job", () => dieHere);
      expect(await sweep(Date.now())).toBe(0);
    } finally {
      dieHere?.();
      await dispatcher.close();
    }
    expect(await liveJobs()).toEqual(NO_JOBS);
    expect(await sweep()).toBe(BATCH);
    expect(await liveJobs()).toEqual(ONE_JOB);
    expect(await indexAndCount(accepted)).toEqual(ONCE);
  }, 90_000);

  test("messages a dispatcher took and never claimed are queued again, and that dispatcher cannot queue them twice", async () => {
    const accepted = await accept("taken");
    const taken = (await h.deps.redis.lpop(keys.dispatchOf(accepted.account), BATCH)) ?? [];
    expect(taken).toHaveLength(BATCH);
    expect(await sweep()).toBe(BATCH);
    // The dispatcher that took them was only slow: it gets to them now.
    await h.deps.redis.rpush(keys.dispatchOf(accepted.account), ...taken);
    await dispatchUntil("dispatch list taken", async () => (await h.deps.redis.llen(keys.dispatchOf(accepted.account))) === 0);
    expect(await liveJobs()).toEqual(ONE_JOB);
    expect(await indexAndCount(accepted)).toEqual(ONCE);
  }, 90_000);

  test("a waiting job is left alone; a removed job's messages are queued again", async () => {
    const accepted = await accept("removed");
    await dispatchUntil("job queued", async () => (await liveJobs()).waiting === 1);
    expect(await sweep()).toBe(0);
    const [job] = await queueOf(h.deps.queues, accepted.account).getJobs(["waiting"]);
    await job.remove();
    expect(await sweep()).toBe(BATCH);
    expect(await liveJobs()).toEqual(ONE_JOB);
    expect(await indexAndCount(accepted)).toEqual(ONCE);
  }, 90_000);
});
