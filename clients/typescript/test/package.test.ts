import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useHarness } from "../../../test/helpers/app";
import { renderSchema, SCHEMA_PATH } from "../scripts/generate";
import { listen, PASSWORD } from "./support";

/**
 * The package as it is published: its generated types match the server, its build (tsc, DOM
 * types, no Bun types) has no `any` and types a consumer's mistakes as errors, it depends on
 * nothing, and the built JavaScript runs on Node against the real server.
 */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "20" }, { worker: true, realtime: true });
const here = join(import.meta.dir, "..");
const root = join(here, "../..");
const RUN_TIMEOUT_MS = 60_000;
let base = "";
let dist = "";

beforeAll(async () => {
  base = listen(h.app);
  h.cleanup(() => h.app.stop(true));
  dist = mkdtempSync(join(tmpdir(), "mm-client-dist-"));
  h.cleanup(() => rmSync(dist, { recursive: true, force: true }));
});

async function run(cmd: string[], cwd = here) {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", timeout: RUN_TIMEOUT_MS, killSignal: "SIGKILL" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, describe: `$ ${cmd.join(" ")}\nexit=${exitCode}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}` };
}

/** Source text without comments and string literals: what is left is code and types. */
function codeOf(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

const tsc = join(root, "node_modules/.bin/tsc");

async function build(): Promise<string> {
  const out = join(dist, "dist");
  if (existsSync(join(out, "index.js"))) return out;
  const built = await run([tsc, "-p", join(here, "tsconfig.json"), "--outDir", out]);
  if (built.exitCode !== 0) throw new Error(`the package does not build\n${built.describe}`);
  return out;
}

describe("generated types", () => {
  test("src/schema.ts is what the current server's OpenAPI document generates (else: bun run generate)", async () => {
    const document = (await h.json("GET", "/docs/json")).body;
    const fresh = await renderSchema(document);
    const committed = readFileSync(SCHEMA_PATH, "utf8");
    expect(committed === fresh, "clients/typescript/src/schema.ts is stale: run `bun run generate` in clients/typescript").toBe(true);
  }, RUN_TIMEOUT_MS);
});

describe("the package", () => {
  test("package.json: ESM, exports with types, files, build script, no runtime dependency; sources import only each other", () => {
    const manifest = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
    expect(manifest).toMatchObject({
      name: "@memory-mesh/client",
      version: "0.1.0",
      type: "module",
      types: "./dist/index.d.ts",
      exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
      files: ["dist", "README.md"],
      license: "MIT",
      scripts: { build: expect.stringContaining("tsc"), generate: expect.any(String) },
    });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.peerDependencies).toBeUndefined();
    expect(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces).toEqual(["clients/typescript"]);
    for (const file of readdirSync(join(here, "src"))) {
      const imports = [...readFileSync(join(here, "src", file), "utf8").matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]);
      expect({ file, outside: imports.filter((specifier) => !/^\.\/[\w-]+\.js$/.test(specifier)) }).toEqual({ file, outside: [] });
    }
    expect(existsSync(join(here, "README.md"))).toBe(true);
  });

  test("builds with tsc (DOM types, no Bun types) into JS and .d.ts; no `any` in the sources or the published types", async () => {
    const out = await build();
    const declarations = readdirSync(out).filter((f) => f.endsWith(".d.ts"));
    expect(declarations).toContain("index.d.ts");
    expect(declarations).toContain("schema.d.ts");
    expect(readdirSync(out).filter((f) => f.endsWith(".js")).sort()).toEqual(readdirSync(join(here, "src")).map((f) => f.replace(/\.ts$/, ".js")).sort());
    const withAny = [
      ...declarations.map((f) => ({ file: `dist/${f}`, text: readFileSync(join(out, f), "utf8") })),
      ...readdirSync(join(here, "src")).map((f) => ({ file: `src/${f}`, text: readFileSync(join(here, "src", f), "utf8") })),
    ].flatMap(({ file, text }) => codeOf(text).split("\n").flatMap((line, i) => (/\bany\b/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
    expect(withAny).toEqual([]);
  }, RUN_TIMEOUT_MS);

  test("a consumer's code type-checks against the published types (strict), and its mistakes do not", async () => {
    const out = await build();
    const dir = join(dist, "consumer");
    const entry = JSON.stringify(join(out, "index.js"));
    await Bun.write(join(dir, "consumer.ts"), CONSUMER.replaceAll("ENTRY", entry));
    await Bun.write(join(dir, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG));
    const checked = await run([tsc, "-p", dir]);
    expect(checked.exitCode, checked.describe).toBe(0);
  }, RUN_TIMEOUT_MS);

  const node = Bun.which("node");
  const nodeMajor = node ? Number(Bun.spawnSync([node, "--version"]).stdout.toString().trim().replace(/^v/, "").split(".")[0]) : 0;
  const skip = nodeMajor < 20;
  if (skip) process.stderr.write(`[client] skipping the Node run: ${node ? `node ${nodeMajor} is older than 20` : "no node on PATH"}\n`);
  test.skipIf(skip)("the built JavaScript on Node: login, events, store, waitForIndexed, search, errors, export, streamed import", async () => {
    const out = await build();
    const { email } = await h.account("node");
    const result = await run([node as string, "--experimental-websocket", join(here, "test/node-smoke.mjs"), join(out, "index.js"), base, email, PASSWORD]);
    expect(result.exitCode, result.describe).toBe(0);
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1) as string)).toEqual({
      events: ["message.created", "message.indexed"],
      status: "indexed",
      found: true,
      missing: "404 not_found",
      exported: ["conversation", "message"],
      imported: 1,
    });
  }, RUN_TIMEOUT_MS);
});

/** Compiled (never run) against the built package; each @ts-expect-error line must fail to compile. */
const CONSUMER = `import { MemoryMeshClient, MemoryMeshError, type Message, type MessageEvent, type SearchResult, type DataJob, type ExportLine, type Tokens } from ENTRY;

type IsAny<T> = 0 extends 1 & T ? true : false;
type NotAny<T> = IsAny<T> extends true ? never : T;
type Returned<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;
export type Checks = [
  NotAny<Message>,
  NotAny<SearchResult>,
  NotAny<MessageEvent>,
  NotAny<DataJob>,
  NotAny<ExportLine>,
  NotAny<Tokens>,
  NotAny<Returned<MemoryMeshClient["search"]>>,
  NotAny<Returned<MemoryMeshClient["messages"]["list"]>>,
  NotAny<Returned<MemoryMeshClient["tenants"]["get"]>>,
  NotAny<Returned<MemoryMeshClient["conversations"]["history"]>>,
  NotAny<Returned<MemoryMeshClient["auth"]["apiKeys"]["create"]>>,
  NotAny<Returned<MemoryMeshClient["webhooks"]["create"]>>,
  NotAny<MemoryMeshError["details"]>,
];

export async function use(client: MemoryMeshClient): Promise<string[]> {
  const stored: Message = await client.messages.store({ tenant_id: "t", conversation_id: "c", role: "user", content: "x", metadata: { a: 1 } });
  const status: "pending" | "indexed" | "failed" = stored.status;
  const [indexed] = await client.messages.waitForIndexed([stored], { timeoutMs: 1000 });
  const { results } = await client.search({ tenant_id: "t", query: "q", top_k: 3, role: ["user", "assistant"], explain: true });
  const score: number = results[0]?.explain?.semantic?.similarity ?? 0;
  for await (const page of client.messages.pages({ tenant_id: "t", status: "indexed", limit: 10 })) void page.next_cursor;
  for await (const event of client.events("t")) {
    const type: "message.created" | "message.indexed" | "message.failed" | "message.updated" | "message.deleted" = event.type;
    void type;
  }
  for await (const line of client.tenants.export("t")) if (line.type === "message") void line.vector;
  const job: DataJob = await client.jobs.waitForJob(await client.tenants.erase("t"));
  try {
    await client.auth.me();
  } catch (error) {
    if (error instanceof MemoryMeshError) return [error.code, String(error.status), error.requestId ?? ""];
  }
  return [status, indexed?.id ?? "", String(score), job.status];
}

/** Never called: each line must fail to compile, or tsc reports the unused @ts-expect-error. */
export async function misuses(client: MemoryMeshClient) {
  // @ts-expect-error role is one of user, assistant, system, tool
  await client.messages.store({ tenant_id: "t", conversation_id: "c", role: "robot", content: "x" });
  // @ts-expect-error top_k is a number
  await client.search({ tenant_id: "t", query: "q", top_k: "5" });
  // @ts-expect-error tenant_id is required to list messages
  await client.messages.list({ limit: 5 });
  // @ts-expect-error retention_days is a number or null
  await client.tenants.setPolicy("t", { retention_days: "90" });
  // @ts-expect-error a message has no "score"
  const score: number = (await client.messages.get("m")).score;
  // @ts-expect-error mode is hybrid, semantic or keyword
  await client.search({ tenant_id: "t", query: "q", mode: "fuzzy" });
  // @ts-expect-error webhooks subscribe to known event types
  await client.webhooks.create({ url: "https://example.com/hook", events: ["message.exploded"] });
  return score;
}
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022", "DOM"],
    types: [],
    strict: true,
    noEmit: true,
    noUnusedLocals: true,
    skipLibCheck: false,
  },
  include: ["*.ts"],
};
