import type { RedisClient } from "../store/redis";
import type { Deps } from "../deps";
import { allShards, keys, parseOutboxMember } from "../store/keys";
import { queueIndexJobs } from "./jobs";

/** Most dispatch entries taken per round: bounded, so one round is one modest BullMQ addBulk. */
const TAKE = 1024;

/**
 * Turns accepted messages into BullMQ jobs, off the request path: blocks on the dispatch list,
 * takes whatever is waiting (messages of many requests), and queues one job per account per
 * EMBED_BATCH_SIZE ids. Entries taken by a dispatcher that dies before queueing them stay in the
 * outbox, which the sweeper re-drives. Every worker runs one; they share the list.
 */
export function startDispatcher(deps: Deps): { close(): Promise<void> } {
  const { log } = deps;
  let running = true;
  const connections: RedisClient[] = [];

  async function dispatch(members: string[]): Promise<void> {
    const byAccount = new Map<string, string[]>();
    for (const member of members) {
      const { account, messageId } = parseOutboxMember(member);
      byAccount.set(account, [...(byAccount.get(account) ?? []), messageId]);
    }
    // Only messages no one has queued yet: the sweeper may have queued one that waited too long.
    await queueIndexJobs(deps, [...byAccount].map(([account, ids]) => ({ account, ids, fromJob: "" })));
  }

  // One blocking reader per shard (a blocking pop may not span slots on a cluster).
  const loops = allShards().map(async (k) => {
    const blocking = deps.connect("blocking");
    connections.push(blocking);
    while (running) {
      try {
        const reply = (await blocking.call("BLMPOP", "1", "1", keys.dispatch(k), "LEFT", "COUNT", String(TAKE))) as [string, string[]] | null;
        if (reply) await dispatch(reply[1]);
      } catch (error) {
        if (!running) break;
        log.warn({ shard: k, err: (error as Error).message }, "dispatch failed; the outbox sweeper will re-drive");
        await Bun.sleep(500);
      }
    }
  });

  return {
    async close() {
      running = false;
      for (const c of connections) c.disconnect();
      // A read stuck in a failover is abandoned after its command timeout at the latest.
      await Promise.race([Promise.all(loops), Bun.sleep(6000)]);
    },
  };
}
