import { describe, expect, test } from "bun:test";
import { ConfigError, ConfigSchema, loadConfig } from "../../src/config";

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

describe("configuration documents", () => {
  test(".env.example and the README's table name every variable, with its default", async () => {
    const root = new URL("../..", import.meta.url).pathname;
    const example = await Bun.file(`${root}.env.example`).text();
    const readme = await Bun.file(`${root}README.md`).text();
    const missing: string[] = [];
    for (const [name, schema] of Object.entries(ConfigSchema.properties) as [string, { default?: unknown }][]) {
      if (!new RegExp(`^#? ?${name}=`, "m").test(example)) missing.push(`.env.example: ${name}`);
      const row = new RegExp(`^\\| \`${name}\` \\| \`?([^|\`]*)\`? \\|`, "m").exec(readme);
      if (!row) missing.push(`README: ${name}`);
      else if (schema.default !== undefined && name !== "JWT_SECRET" && row[1].trim() !== String(schema.default)) missing.push(`README default of ${name}: ${row[1]}`);
    }
    expect(missing).toEqual([]);
  });
});
