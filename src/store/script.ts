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
}
