import { describe, expect, test } from "bun:test";
import type { Cluster } from "ioredis";
import { keys } from "../../src/store/keys";
import { queueOf } from "../../src/store/queue";
import { eventually, type Harness, useHarness } from "../helpers/app";
import { masterOf } from "../helpers/cluster";

/**
 * The master of an account's shard is SIGKILLed mid-ingest; its replica takes over and ingestion
 * resumes. Two variants:
 * - one replica each, no WAIT: what a 202 promises is the master's copy (replication is
 *   asynchronous), so only messages acknowledged after the failover are checked;
 * - two replicas each (a promoted replica still has one) and REDIS_WAIT_REPLICAS=1: a 202 means a
 *   replica holds the message too, and every message answered 202 is there and gets indexed.
 */
// Short job locks: a worker whose connection died with the master closes (forced) after one lock.
const base = { EMBED_BATCH_WAIT_MS: "10", VECTOR_ENGINE: "exact", JOB_LOCK_MS: "3000" };
const variants: [string, Harness, boolean][] = [
  ["one replica each, no WAIT", useHarness(base, { cluster: { masters: 3, replicas: 1 }, worker: true }), false],
  ["two replicas each, REDIS_WAIT_REPLICAS=1", useHarness({ ...base, REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "2000" }, { cluster: { masters: 3, replicas: 2 }, worker: true }), true],
];

async function killMasterMidIngest(h: Harness, waited: boolean): Promise<void> {
  const { token, userId } = await h.account();
  const owner = await masterOf(h.deps.redis as Cluster, keys.tenants(userId));
  const victim = h.cluster?.nodes.find((n) => `127.0.0.1:${n.port}` === owner);
  if (!victim) throw new Error(`no node ${owner}`);

  const acknowledged: string[] = [];
  const refused: number[] = [];
  let killedAt = -1;
  const deadline = Date.now() + 60_000;
  for (let i = 0; killedAt < 0 || acknowledged.length < killedAt + 20; i++) {
    if (Date.now() > deadline) throw new Error(`ingestion did not resume: ${acknowledged.length} acknowledged, refusals ${refused.join(",")}`);
    if (acknowledged.length === 20 && killedAt < 0) {
      process.kill(victim.pid, "SIGKILL");
      killedAt = acknowledged.length;
    }
    const res = await h.json("POST", "/v1/messages", {
      token,
      body: { tenant_id: "t", conversation_id: "c", role: "user", content: `message ${i} written around a failover` },
    });
    if (res.status === 202) acknowledged.push(res.body.id);
    else {
      refused.push(res.status);
      await Bun.sleep(100); // pacing the retries of a client while the cluster elects a new master
    }
  }
  expect(killedAt).toBe(20);
  // Without WAIT, the messages acknowledged just before the kill may not have reached the replica.
  const checked = waited ? acknowledged : acknowledged.slice(killedAt);
  // While the master was gone, refusals were 503s (never a 500, never a 202 that did not stick).
  expect(refused.every((status) => status === 503)).toBe(true);
  expect(await masterOf(h.deps.redis as Cluster, keys.tenants(userId))).not.toBe(owner);

  const statuses = () => Promise.all(checked.map(async (id) => (await h.json("GET", `/v1/messages/${id}`, { token })).body?.status));
  try {
    await eventually("every acknowledged message indexed", async () => (await statuses()).every((s) => s === "indexed"), 60_000);
  } catch (error) {
    const queue = queueOf(h.deps.queues, userId);
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed");
    const state = { statuses: await statuses(), dispatch: await h.deps.redis.llen(keys.dispatchOf(userId)), outbox: await h.deps.redis.zcard(keys.outboxOf(userId)), counts };
    throw new Error(`${(error as Error).message}: ${JSON.stringify(state)}`);
  }
}

describe.each(variants)("failover, %s", (_, h, waited) => {
  test("a master killed mid-ingest: its replica takes over, ingestion resumes, acknowledged messages are indexed", () => killMasterMidIngest(h, waited), 120_000);
});
