import { Cluster } from "ioredis";
import type { RedisClient } from "./redis";

/**
 * A Lua script run by its SHA, loaded on demand (NOSCRIPT) on whichever connection runs it. Every
 * script's keys must share one cluster slot; `Script.all` lists them so a test can check that each
 * one has run on a cluster.
 */
export class Script {
  static readonly all = new Set<Script>();
  readonly sha: string;
  /** whether this process has run it (for that test) */
  ran = false;
  constructor(readonly source: string) {
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
    Script.all.add(this);
  }

  async run<T = unknown>(redis: RedisClient, keys: (string | Buffer)[], args: (string | number | Buffer)[]): Promise<T> {
    this.ran = true;
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as T;
    }
  }
  /**
   * Runs the script, then WAIT for `replicas` replicas of the node that ran it to acknowledge its
   * writes (at most `timeoutMs`), in one pipeline so both reach the same node. Returns the script's
   * reply and how many replicas acknowledged.
   */
  async runReplicated<T = unknown>(redis: RedisClient, keys: string[], args: (string | number)[], replicas: number, timeoutMs: number): Promise<{ reply: T; acked: number }> {
    this.ran = true;
    const attempt = async (bySha: boolean) => {
      const pipeline = redis.pipeline();
      if (bySha) pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
      else pipeline.eval(this.source, keys.length, ...keys, ...args);
      pipeline.call("WAIT", String(replicas), String(timeoutMs));
      const [[error, reply], [waitError, acked]] = (await pipeline.exec()) as [Error | null, unknown][];
      return { error, reply: reply as T, acked: waitError ? 0 : Number(acked) };
    };
    let result = await attempt(true);
    if (result.error?.message.startsWith("NOSCRIPT")) result = await attempt(false);
    // A pipeline is not redirected for us: after a failover, learn the new owner and go once more.
    if (result.error && /^(MOVED|ASK) /.test(result.error.message) && redis instanceof Cluster) {
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      result = await attempt(true);
      if (result.error?.message.startsWith("NOSCRIPT")) result = await attempt(false);
    }
    if (result.error) throw result.error;
    return { reply: result.reply, acked: result.acked };
  }
}
