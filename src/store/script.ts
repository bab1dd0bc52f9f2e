import type { RedisClient } from "./redis";

/** A Lua script run by its SHA, loaded on demand (NOSCRIPT) on whichever connection runs it. */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  }

  async run<T = unknown>(redis: RedisClient, keys: (string | Buffer)[], args: (string | number | Buffer)[]): Promise<T> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as T;
    }
  }
}
