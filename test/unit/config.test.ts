import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";

describe("loadConfig", () => {
  test("defaults, and numbers and booleans from strings", () => {
    const c = loadConfig({ PORT: "9000", TRUST_PROXY: "true", EMBED_BATCH_SIZE: "32" });
    expect(c.PORT).toBe(9000);
    expect(c.TRUST_PROXY).toBe(true);
    expect(c.EMBED_BATCH_SIZE).toBe(32);
    expect(c.EMBED_BATCH_WAIT_MS).toBe(50);
    expect(c.EMBEDDING_PROVIDER).toBe("local");
  });

  test("a bad value names the variable", () => {
    expect(() => loadConfig({ PORT: "abc" })).toThrow(/PORT="abc": Expected integer/);
    expect(() => loadConfig({ PORT: "99999" })).toThrow(/PORT=99999/);
    expect(() => loadConfig({ EMBEDDING_PROVIDER: "foo" })).toThrow(/EMBEDDING_PROVIDER="foo": expected one of local, openai/);
    expect(() => loadConfig({ PORT: "abc" })).toThrow(ConfigError);
  });

  test("production refuses the default or a short JWT secret", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: "short" })).toThrow(/JWT_SECRET/);
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32) }).NODE_ENV).toBe("production");
  });
});
