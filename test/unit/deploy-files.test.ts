import { describe, expect, test } from "bun:test";

const root = new URL("../..", import.meta.url).pathname;
const read = (file: string) => Bun.file(`${root}${file}`).text();

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}
const compose = Bun.YAML.parse(await read("docker-compose.yml")) as { services: Record<string, Service> };
const { api, worker, redis } = compose.services;

/** A Compose duration ("30s", "1m30s", "500ms") in milliseconds. */
function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  expect(parts.map((p) => p[0]).join("")).toBe(text);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

describe("docker-compose.yml", () => {
  test("api and worker run one image, built once (by api)", () => {
    expect(api.image).toMatch(/^memory-mesh:/);
    expect(worker.image).toBe(api.image as string);
    expect(api.build).toBeDefined();
    expect(worker.build).toBeUndefined();
  });

  test("the api is checked on /ready of its port, a worker on /health of its metrics port", () => {
    expect(api.healthcheck?.test.join(" ")).toContain("http://127.0.0.1:8000/ready");
    const port = worker.environment?.WORKER_METRICS_PORT;
    expect(Number(port)).toBeGreaterThan(0);
    const check = worker.healthcheck?.test.join(" ");
    expect(check).toContain(`http://127.0.0.1:${port}/health`);
    expect(check).not.toContain(":8000");
  });

  test("stop_grace_period outlasts the graceful shutdown it sets (SHUTDOWN_TIMEOUT_MS)", () => {
    for (const service of [api, worker]) {
      const timeoutMs = Number(service.environment?.SHUTDOWN_TIMEOUT_MS);
      expect(timeoutMs).toBeGreaterThan(0);
      expect(durationMs(service.stop_grace_period ?? "0s")).toBeGreaterThan(timeoutMs);
    }
  });

  test("redis never evicts keys (BullMQ requires noeviction)", () => {
    const args = redis.command ?? [];
    expect(args[args.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
  });
});

describe("image build", () => {
  test(".dockerignore keeps local installs, history and secrets out of the context", async () => {
    const ignored = (await read(".dockerignore")).split("\n").map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", ".git", ".env", "test", "bench"]));
  });

  test("the Dockerfile has no single-role HEALTHCHECK (compose checks each role)", async () => {
    expect(await read("Dockerfile")).not.toMatch(/^HEALTHCHECK/m);
  });
});
