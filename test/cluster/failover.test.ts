import { describe, expect, test } from "bun:test";
import type { Cluster } from "ioredis";
import { keys } from "../../src/store/keys";
import { queueOf } from "../../src/store/queue";
import { eventually, useHarness } from "../helpers/app";
import { masterOf } from "../helpers/cluster";

/**
 * A 3-master cluster with two replicas each (so a promoted replica still has one), and
 * REDIS_WAIT_REPLICAS=1: a 202 means a replica holds
 * the message too. The master of an account's shard is SIGKILLed mid-ingest; its replica takes
 * over, ingestion resumes, and every message that was answered 202 is there and gets indexed.
 */
const h = useHarness(
  { EMBED_BATCH_WAIT_MS: "10", VECTOR_ENGINE: "exact", REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "2000" },
  { cluster: { masters: 3, replicas: 2 }, worker: true },
);

describe("failover", () => {
  test("a master killed mid-ingest: its replica takes over, ingestion resumes, no acknowledged message is lost", async () => {
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
    // While the master was gone, refusals were 503s (never a 500, never a 202 that did not stick).
    expect(refused.every((status) => status === 503)).toBe(true);
    expect(await masterOf(h.deps.redis as Cluster, keys.tenants(userId))).not.toBe(owner);

    const statuses = () => Promise.all(acknowledged.map(async (id) => (await h.json("GET", `/v1/messages/${id}`, { token })).body?.status));
    try {
      await eventually("every acknowledged message indexed", async () => (await statuses()).every((s) => s === "indexed"), 60_000);
    } catch (error) {
      const queue = queueOf(h.deps.queues, userId);
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed");
      const state = { statuses: await statuses(), dispatch: await h.deps.redis.llen(keys.dispatchOf(userId)), outbox: await h.deps.redis.zcard(keys.outboxOf(userId)), counts };
      throw new Error(`${(error as Error).message}: ${JSON.stringify(state)}`);
    }
  }, 120_000);
});
