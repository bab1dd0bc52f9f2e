import { expect, test } from "bun:test";
import { createLogger } from "../../src/log";

test("log lines are JSON and never carry secrets", () => {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    createLogger("info", { service: "t" })
      .child({ requestId: "r1" })
      .info({ password: "SecurePass123", headers: { authorization: "Bearer abc.def", "x-api-key": "mm_k_secret" }, refresh_token: "rt_x", tenantId: "t1" }, "hello");
  } finally {
    process.stdout.write = write;
  }
  expect(lines).toHaveLength(1);
  const entry = JSON.parse(lines[0]);
  expect(entry).toMatchObject({ level: "info", service: "t", requestId: "r1", tenantId: "t1", msg: "hello", password: "[redacted]", refresh_token: "[redacted]" });
  expect(entry.headers).toEqual({ authorization: "[redacted]", "x-api-key": "[redacted]" });
  expect(lines[0]).not.toContain("SecurePass123");
  expect(lines[0]).not.toContain("abc.def");
});
