import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { useHarness } from "../helpers/app";

/**
 * Every code block of docs/integration-guide.md, run against the real server. A block's info
 * string names the program it belongs to (```python file=http_client.py); the blocks of one
 * program are joined in order and run: Python with Debian's python3 (httpx, websockets),
 * TypeScript type-checked under strict and run with Bun, Go with `go run`, shell with bash. JSON
 * blocks (configuration) must parse. A block that is none of these fails the test: nothing in the
 * guide goes unrun. A missing toolchain skips its program with the reason on stderr.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20" }, { worker: true, realtime: true });
const root = new URL("../..", import.meta.url).pathname;
const GUIDE = join(root, "docs/integration-guide.md");
// Inside the checkout, so TypeScript programs resolve the project's packages (gitignored).
const build = join(root, ".guide-build", String(process.pid));
const RUN_TIMEOUT_MS = 120_000;
let base = "";

interface Block {
  lang: string;
  file?: string;
  code: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  const fence = /^```(\w*)([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    const file = /\bfile=(\S+)/.exec(match[2])?.[1];
    found.push({ lang: match[1], file, code: match[3], line: markdown.slice(0, match.index).split("\n").length });
  }
  return found;
}

const all = blocks(await Bun.file(GUIDE).text());
const programs = new Map<string, Block[]>();
for (const block of all) if (block.file) programs.set(block.file, [...(programs.get(block.file) ?? []), block]);

beforeAll(() => {
  h.app.listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${h.app.server?.port}`;
  rmSync(build, { recursive: true, force: true });
  for (const [file, parts] of programs) {
    mkdirSync(dirname(join(build, file)), { recursive: true });
    writeFileSync(join(build, file), parts.map((b) => b.code).join("\n"));
  }
  writeFileSync(join(build, "go", "go.mod"), "module guide\n\ngo 1.19\n");
  h.cleanup(() => {
    h.app.stop(true);
    rmSync(build, { recursive: true, force: true });
  });
});

async function run(cmd: string[], cwd = build, env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, MEMORY_MESH_URL: base, ...env }, stdout: "pipe", stderr: "pipe", timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, transcript: `$ ${cmd.join(" ")}\nexit=${exitCode}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

function expectOk(result: Awaited<ReturnType<typeof run>>, line: string) {
  const printed = result.stdout.split("\n").some((l) => l.trim() === line);
  expect({ exitCode: result.exitCode, printed }, result.transcript).toEqual({ exitCode: 0, printed: true });
}

const PYTHON = "/usr/bin/python3";
const pythonReason = () => {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (apt-get install -y python3 python3-httpx python3-websockets)`;
  return Bun.spawnSync([PYTHON, "-c", "import httpx, websockets"]).exitCode === 0 ? undefined : "python3-httpx / python3-websockets not installed";
};
const GO = Bun.which("go");

function testWith(reason: string | undefined, name: string, fn: () => Promise<void>) {
  if (reason) {
    process.stderr.write(`[docs-guide] skipping "${name}": ${reason}\n`);
    test.skip(name, fn);
  } else test(name, fn, RUN_TIMEOUT_MS + 30_000);
}

describe("docs/integration-guide.md, every block run", () => {
  test("every block is a program part (file=...) or JSON that parses; the programs are the ones run below", () => {
    const loose = all.filter((b) => !b.file && b.lang !== "json").map((b) => `line ${b.line}: \`\`\`${b.lang}`);
    expect(loose).toEqual([]);
    for (const block of all.filter((b) => b.lang === "json")) expect(() => JSON.parse(block.code), `JSON block at line ${block.line}`).not.toThrow();
    expect([...programs.keys()].sort()).toEqual(["curl.sh", "go/main.go", "http-client.ts", "http_client.py", "mcp-client.ts", "py_client.py", "ts-client.ts"]);
  });

  test("curl", async () => expectOk(await run(["bash", "-euo", "pipefail", "curl.sh"]), "CURL OK"), RUN_TIMEOUT_MS);

  testWith(pythonReason(), "Python over HTTP (httpx, websockets)", async () => expectOk(await run([PYTHON, "http_client.py"]), "PY OK"));

  testWith(pythonReason(), "the Python client (clients/python)", async () =>
    expectOk(await run([PYTHON, "py_client.py"], build, { PYTHONPATH: join(root, "clients/python") }), "PY CLIENT OK"),
  );

  test(
    "TypeScript over HTTP: type-checks under strict, then runs",
    async () => {
      const tsc = join(root, "node_modules", ".bin", "tsc");
      const checked = await run([tsc, "--ignoreConfig", "--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--types", "bun", "--skipLibCheck", "http-client.ts", "mcp-client.ts"]);
      expect(checked.exitCode, checked.transcript).toBe(0);
      expectOk(await run([process.execPath, "http-client.ts"]), "TS OK");
    },
    RUN_TIMEOUT_MS,
  );

  test(
    "the TypeScript client (clients/typescript, built as it is published)",
    async () => {
      const built = await run(["bun", "run", "build"], join(root, "clients/typescript"));
      expect(built.exitCode, built.transcript).toBe(0);
      expectOk(await run([process.execPath, "ts-client.ts"]), "TS CLIENT OK");
    },
    RUN_TIMEOUT_MS,
  );

  test("MCP from TypeScript (the SDK's client)", async () => expectOk(await run([process.execPath, "mcp-client.ts"]), "MCP OK"), RUN_TIMEOUT_MS);

  testWith(GO ? undefined : "no `go` binary on PATH (apt-get install -y golang-go)", "Go over HTTP (standard library)", async () => {
    const env = { GOFLAGS: "-mod=mod", GOPROXY: "off", GOTOOLCHAIN: "local", GOCACHE: "/tmp/memory-mesh-guide-gocache" };
    expectOk(await run([GO as string, "run", "."], join(build, "go"), env), "GO OK");
  });
});
