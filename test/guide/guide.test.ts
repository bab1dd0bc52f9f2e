import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { useHarness } from "../helpers/app";

/**
 * Runs the client code of /work/shared/integration-guide.md (Python, TypeScript, Go) as written
 * against the real server on a real port. Toolchains (Debian): python3 python3-httpx
 * python3-websockets golang-go. A missing toolchain skips that language with a reason on stderr.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20" }, { worker: true, realtime: true });
const here = new URL(".", import.meta.url).pathname;
const RUN_TIMEOUT_MS = 100_000;
let base = "";

beforeAll(() => {
  h.app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${h.app.server?.port}`;
  h.cleanup(() => h.app.stop(true));
});

const PYTHON = "/usr/bin/python3";
function pythonReason(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (apt-get install -y python3 python3-httpx python3-websockets)`;
  const probe = Bun.spawnSync([PYTHON, "-c", "import httpx, websockets"], { stdout: "ignore", stderr: "pipe" });
  if (probe.exitCode !== 0) return `httpx/websockets not importable by ${PYTHON} (apt-get install -y python3-httpx python3-websockets): ${probe.stderr.toString().trim()}`;
  return undefined;
}
const GO = Bun.which("go");
const goReason = GO ? undefined : "no `go` binary on PATH (apt-get install -y golang-go)";

async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? here,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr, signal: proc.signalCode, describe: `$ ${cmd.join(" ")}\nexit=${exitCode} signal=${proc.signalCode}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

/** Exit 0 and the client's closing line; the whole transcript is the failure message. */
function expectOk(result: Awaited<ReturnType<typeof run>>, line: string) {
  const printed = result.stdout.split("\n").some((l) => l.trim() === line);
  expect({ exitCode: result.exitCode, printed }, `expected exit 0 and a line "${line}"\n${result.describe}`).toEqual({ exitCode: 0, printed: true });
}

/** `test`, or `test.skip` with the reason on stderr when the toolchain is missing. */
function testWith(reason: string | undefined, name: string, fn: () => Promise<void>) {
  if (reason) {
    process.stderr.write(`[guide] skipping "${name}": ${reason}\n`);
    test.skip(name, fn);
  } else {
    test(name, fn, RUN_TIMEOUT_MS + 20_000);
  }
}

describe("integration guide clients, as written, against the real server", () => {
  const pyReason = pythonReason();

  testWith(pyReason, "Python: auth, messages, batch, conversations, search, API key, WebSocket", async () => {
    expectOk(await run([PYTHON, "client.py", base]), "PY OK");
  });

  testWith(pyReason, "Python: store_message_safe (guide defect: passes a dict; the fixed call works)", async () => {
    expectOk(await run([PYTHON, "client.py", base, "safe"]), "PY SAFE OK");
  });

  test(
    "TypeScript: login, storeMessage, searchMessages, storeMessageSafe",
    async () => {
      expectOk(await run([process.execPath, "client.ts", base]), "TS OK");
    },
    RUN_TIMEOUT_MS + 20_000,
  );

  testWith(goReason, "Go: StoreMessage as written; Search (guide defect: unencoded query) with the query encoded", async () => {
    const result = await run([GO as string, "run", "."], {
      cwd: `${here}go`,
      env: { MEMORY_MESH_URL: base, GOFLAGS: "-mod=mod", GOPROXY: "off", GOTOOLCHAIN: "local", GOCACHE: "/tmp/memory-mesh-guide-gocache" },
    });
    expectOk(result, "GO OK");
  });
});
