import { keys } from "./keys";
import type { RedisClient } from "./redis";

/**
 * Whether a Redis can serve the Query Engine, and waiting for a new cluster's search coordinator:
 * what start-up asks before it picks a vector engine.
 */

/** The search coordinator of a cluster that has just formed answers this until it has the topology. */
const CLUSTER_STARTING = /ERRCLUSTER|Uninitialized cluster state|CLUSTERDOWN/i;

/** Runs a Query Engine command, waiting (up to `waitMs`) while a new cluster's coordinator starts. */
export async function whenClusterReady<T>(run: () => Promise<T>, waitMs = 20_000): Promise<T> {
  const end = Date.now() + waitMs;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!CLUSTER_STARTING.test((error as Error).message) || Date.now() > end) throw error;
      await Bun.sleep(200);
    }
  }
}

/** Probes with a throwaway VECTOR index: a search module without vector support does not count. */
export async function detectVectorSupport(redis: RedisClient): Promise<boolean> {
  const name = keys.probeIndex();
  try {
    await whenClusterReady(() =>
      redis.call(
        "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", `${name}:`, "SCHEMA",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "COSINE",
      ),
    );
  } catch {
    return false;
  }
  await redis.call("FT.DROPINDEX", name).catch(() => undefined);
  return true;
}
