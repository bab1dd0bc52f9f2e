import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { DataDirInUse, lockDataDir } from "../../src/store/data-dir-lock";
import { freePort } from "../../src/store/redis-server";
import { eventually } from "../helpers/app";

const root = new URL("../..", import.meta.url).pathname;
const freshDir = () => mkdtempSync(`${tmpdir()}/mm-lock-`);

describe("data folder lock", () => {
  test("a second claim of a folder held by a live process is refused; released, it can be claimed again", () => {
    const dir = freshDir();
    try {
      const release = lockDataDir(dir);
      expect(() => lockDataDir(dir)).toThrow(DataDirInUse);
      expect(() => lockDataDir(dir)).toThrow(/in use by another Memory Mesh \(pid \d+/);
      release();
      expect(existsSync(`${dir}/memory-mesh.lock`)).toBe(false);
      lockDataDir(dir)();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a lock left by a process that is gone, or whose pid was reused, is taken over", async () => {
    const dir = freshDir();
    try {
      const gone = Bun.spawn(["true"]);
      await gone.exited;
      writeFileSync(`${dir}/memory-mesh.lock`, JSON.stringify({ pid: gone.pid, since: "2026-01-01T00:00:00Z" }));
      lockDataDir(dir)();
      // Our own pid, but another process start time: a pid reused after a crash.
      writeFileSync(`${dir}/memory-mesh.lock`, JSON.stringify({ pid: process.pid, started: "1", since: "2026-01-01T00:00:00Z" }));
      const release = lockDataDir(dir);
      expect(JSON.parse(readFileSync(`${dir}/memory-mesh.lock`, "utf8")).pid).toBe(process.pid);
      release();
      writeFileSync(`${dir}/memory-mesh.lock`, "{half-writ");
      lockDataDir(dir)();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bun run start refuses a folder in use and leaves the running instance and its Redis alone", async () => {
    const dir = freshDir();
    const [port, secondPort, apiMetrics, workerMetrics] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env = (apiPort: number) => ({
      ...process.env, NODE_ENV: "test", LOG_LEVEL: "warn", REDIS_URL: "", REDIS_EMBEDDED_DIR: dir, PORT: String(apiPort),
      API_METRICS_PORT: String(apiMetrics), WORKER_METRICS_PORT: String(workerMetrics),
    });
    const first = Bun.spawn(["bun", `${root}src/start.ts`], { env: env(port), stdio: ["ignore", "ignore", "ignore"] });
    let second: ReturnType<typeof Bun.spawn> | undefined;
    try {
      await eventually("first instance healthy", async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok, 60_000);
      const redisPid = Number(readFileSync(`${dir}/redis.pid`, "utf8"));
      second = Bun.spawn(["bun", `${root}src/start.ts`], { env: env(secondPort), stdio: ["ignore", "pipe", "pipe"] });
      const refused = second;
      expect(await eventually("the second start to exit", () => refused.exitCode !== null && { code: refused.exitCode }, 30_000)).toEqual({ code: 1 });
      expect(await new Response(refused.stderr as ReadableStream).text()).toContain(`is in use by another Memory Mesh (pid ${first.pid}`);
      // The first instance and its Redis carry on.
      expect(() => process.kill(redisPid, 0)).not.toThrow();
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      first.kill("SIGINT");
      expect(await first.exited).toBe(0);
      expect(existsSync(`${dir}/memory-mesh.lock`)).toBe(false);
    } finally {
      for (const p of [second, first]) if (p && p.exitCode === null) p.kill("SIGINT");
      await Promise.all([second?.exited, first.exited]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
