import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useHarness } from "../helpers/app";

/**
 * The official Python client (clients/python, package `memory_mesh`): its unittest suites run
 * against the real server on a real port (each suite registers its own accounts), then a check
 * that every operation of the OpenAPI document was called successfully by both the sync and the
 * async client, mypy --strict on the package, and `pip install` into a fresh venv, offline.
 * Toolchain (Debian): python3 python3-httpx python3-websockets (+ python3-venv python3-pip
 * python3-setuptools for the install, python3-mypy for the type check); what is missing is
 * skipped with a reason on stderr.
 */
// WEBHOOK_ALLOW_PRIVATE: the suites' webhook receiver listens on 127.0.0.1.
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20", WEBHOOK_ALLOW_PRIVATE: "true" }, { worker: true, realtime: true });
// A second API with a tiny rate limit: its 429s carry a Retry-After of a second or two.
const limited = useHarness({ RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_WINDOW_S: "2" });

const PYTHON = "/usr/bin/python3";
const RUN_TIMEOUT_MS = 180_000;
const client = new URL("../../clients/python/", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "memory-mesh-python-"));
const requestLog = join(work, "requests.ndjson");
let base = "";
let limitedBase = "";

beforeAll(() => {
  h.app.listen({ port: 0, hostname: "127.0.0.1" });
  limited.app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${h.app.server?.port}`;
  limitedBase = `http://127.0.0.1:${limited.app.server?.port}`;
  h.cleanup(() => h.app.stop(true));
  limited.cleanup(() => limited.app.stop(true));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Why a Python step cannot run here (undefined: it can). */
function pythonReason(modules: string, apt: string): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (apt-get install -y python3 ${apt})`;
  const probe = Bun.spawnSync([PYTHON, "-c", `import ${modules}`], { stdout: "ignore", stderr: "pipe" });
  if (probe.exitCode !== 0) return `${modules} not importable by ${PYTHON} (apt-get install -y ${apt}): ${probe.stderr.toString().trim()}`;
  return undefined;
}
const clientReason = pythonReason("httpx, websockets", "python3-httpx python3-websockets");
const mypyReason = clientReason ?? pythonReason("mypy", "python3-mypy");
const installReason = clientReason ?? pythonReason("ensurepip, setuptools", "python3-venv python3-pip python3-setuptools");

/** Runs a command with exactly `env` (no inherited PIP_* settings), killed after RUN_TIMEOUT_MS. */
async function run(cmd: string[], cwd: string, env: Record<string, string | undefined>) {
  const proc = Bun.spawn(cmd, { cwd, env, stdout: "pipe", stderr: "pipe", timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr, describe: `$ ${cmd.join(" ")}\nexit=${exitCode} signal=${proc.signalCode}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

const pythonEnv = () => ({
  ...process.env,
  PYTHONPATH: client,
  PYTHONDONTWRITEBYTECODE: "1",
  PYTHONUNBUFFERED: "1",
  MM_BASE_URL: base,
  MM_RATE_LIMITED_URL: limitedBase,
  MM_REQUEST_LOG: requestLog,
});

/** `test`, or `test.skip` with the reason on stderr when the toolchain is missing. */
function testWith(reason: string | undefined, name: string, fn: () => Promise<void>) {
  if (reason) {
    process.stderr.write(`[python-client] skipping "${name}": ${reason}\n`);
    test.skip(name, fn);
  } else {
    test(name, fn, RUN_TIMEOUT_MS + 20_000);
  }
}

const SUITES: [module: string, what: string][] = [
  ["test_unit", "retry decisions, idempotency keys, error bodies, models, NDJSON bodies, wait helpers, webhook signatures (no server)"],
  ["test_auth", "register, login, refresh on 401 (once, even for concurrent calls), logout, API keys, delete account"],
  ["test_messages", "store, batch, get, list + cursors, update, delete, delete by filter, conversations, search, reindex"],
  ["test_tenants", "tenants, retention policy, streamed export, import from lines / files / gzip, erase"],
  ["test_resilience", "429 retried after Retry-After; a write whose answer was lost is sent again and stored once"],
  ["test_events", "event streams: async and sync, until message.indexed; reconnect after drop, 1001, 4001; 4002 and 4003 end them"],
  ["test_webhooks", "webhook endpoints, deliveries checked with verify_webhook, secret rotation, test events, delivery log, retry"],
];

/** Operations the client reaches another way, with the reason. */
const NOT_WRAPPED: Record<string, string> = {
  searchMemory: "search() sends POST /v1/memory/search (searchMemoryWithBody): the same fields, no URL length limit",
};

describe("Python client (clients/python) against the real server", () => {
  for (const [module, what] of SUITES) {
    testWith(clientReason, `${module}: ${what}`, async () => {
      const result = await run([PYTHON, "-m", "unittest", "-v", module], `${client}tests`, pythonEnv());
      // unittest ends with "OK" when everything passed, "OK (skipped=n)" or "FAILED (...)" otherwise
      const ok = result.stderr.split("\n").some((l) => l.trim() === "OK");
      expect({ exitCode: result.exitCode, ok }, result.describe).toEqual({ exitCode: 0, ok: true });
    });
  }

  testWith(clientReason, "every operation of the OpenAPI document was called successfully by the sync and the async client", async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.operationId && !NOT_WRAPPED[op.operationId])
        .map(([method, op]) => ({
          id: `${method.toUpperCase()} ${path} (${op.operationId})`,
          method: method.toUpperCase(),
          pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
          literals: path.split("/").filter((s) => s && !s.startsWith("{")).length,
        })),
    );
    const covered = new Set<string>();
    const calls = existsSync(requestLog) ? readFileSync(requestLog, "utf8").split("\n").filter(Boolean) : [];
    for (const line of calls) {
      const call = JSON.parse(line) as { client: string; method: string; path: string; status: number };
      // a call belongs to the most specific route it matches (/v1/messages/batch, not /v1/messages/{id})
      const op = operations.filter((o) => o.method === call.method && o.pattern.test(call.path)).sort((a, b) => b.literals - a.literals)[0];
      if (op && call.status < 300) covered.add(`${call.client} ${op.id}`);
    }
    const missing = operations.flatMap((o) => ["sync", "async"].filter((c) => !covered.has(`${c} ${o.id}`)).map((c) => `${c} ${o.id}`));
    expect(missing, `operations no client call reached with a 2xx (${calls.length} calls logged)`).toEqual([]);
  });

  testWith(mypyReason, "mypy --strict passes on the package (type hints everywhere)", async () => {
    const result = await run([PYTHON, "-m", "mypy", "--strict", "--cache-dir=/dev/null", "memory_mesh"], client, pythonEnv());
    expect(result.exitCode, result.describe).toBe(0);
  });

  testWith(installReason, "pip install --no-build-isolation into a fresh venv works offline; the installed memory_mesh talks to the server", async () => {
    // setuptools writes build/ and *.egg-info next to the sources: install from a copy of them
    const source = join(work, "memory-mesh-python");
    cpSync(client, source, { recursive: true, filter: (p) => !/(__pycache__|\.mypy_cache|\.egg-info|\/build)$/.test(p) });
    const venv = join(work, "venv");
    // no index, no pip configuration of this machine: what a machine without PyPI has
    const offline = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PIP_")));
    const env = { ...offline, PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" };
    const created = await run([PYTHON, "-m", "venv", "--system-site-packages", venv], work, env);
    expect(created.exitCode, created.describe).toBe(0);
    const installed = await run([`${venv}/bin/pip`, "install", "--no-index", "--no-build-isolation", source], work, env);
    expect(installed.exitCode, installed.describe).toBe(0);
    const check = [
      "import pathlib, sys",
      "import memory_mesh",
      "from memory_mesh import AsyncMemoryMesh, MemoryMesh",
      "where = pathlib.Path(memory_mesh.__file__).resolve().parent",
      "assert str(where).startswith(sys.argv[2]), where",
      "assert (where / 'py.typed').is_file(), 'py.typed missing'",
      "print('health', MemoryMesh(sys.argv[1]).health().status)",
      "print('INSTALLED', memory_mesh.__version__)",
    ].join("\n");
    const imported = await run([`${venv}/bin/python`, "-c", check, base, venv], work, env);
    expect({ exitCode: imported.exitCode, lines: imported.stdout.trim().split("\n") }, imported.describe).toEqual({ exitCode: 0, lines: ["health ok", "INSTALLED 0.1.0"] });
  });
});
