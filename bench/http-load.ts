/**
 * HTTP load for the ingest benchmarks: wrk (one thread) when installed (`apt-get install -y wrk`),
 * else fetch loops in this process; and API credentials of accounts spread evenly over a
 * cluster's masters.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import { keys, shardOf } from "../src/store/keys";
import { masterOf } from "../test/helpers/cluster";
import type { Bench } from "./lib";

/** The ingest benchmarks' message: one POST /v1/messages body (227 bytes). */
export const BODY = JSON.stringify({
  tenant_id: "bench",
  conversation_id: "conv-1",
  role: "user",
  content: "I have been learning Python for data analysis and would like to remember which pandas tricks worked best.",
  importance: 0.6,
  metadata: { source: "bench" },
});

export interface Load {
  rps: number;
  requests: number;
  /** answers other than 2xx, and connect errors */
  errors: number;
  p50?: string;
  p99?: string;
}

export interface LoadOptions {
  /** POST body sent with every request */
  body: string;
  connections: number;
}

const luaTable = (headers: Record<string, string>) => `{ ${Object.entries(headers).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(", ")} }`;

/**
 * wrk, one thread, `connections` connections for `seconds`. With several header sets, each request
 * takes the next (a Lua `request` function, which costs wrk a little CPU: compare like with like).
 */
async function wrk(url: string, headerSets: Record<string, string>[], seconds: number, o: LoadOptions): Promise<Load> {
  const script = join(tmpdir(), `mm-bench-${process.pid}.lua`);
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(o.body)}`,
    ...Object.entries(headerSets[0]).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ];
  if (headerSets.length > 1) {
    lua.push(
      `local sets = { ${headerSets.map(luaTable).join(", ")} }`,
      "local n = 0",
      "request = function()",
      "  n = n % #sets + 1",
      "  for k, v in pairs(sets[n]) do wrk.headers[k] = v end",
      "  return wrk.format()",
      "end",
    );
  }
  await Bun.write(script, lua.join("\n"));
  const proc = Bun.spawn(["wrk", "-t1", `-c${o.connections}`, `-d${seconds}s`, "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  await Bun.file(script).delete();
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const errors = num(/Non-2xx or 3xx responses: (\d+)/) + num(/Socket errors: connect (\d+)/);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    errors,
    p50: /\s50%\s+(\S+)/.exec(out)?.[1],
    p99: /\s99%\s+(\S+)/.exec(out)?.[1],
  };
}

/** Fallback: `connections` fetch loops in this process (they share its CPU with the server). */
async function fetchLoad(url: string, headerSets: Record<string, string>[], seconds: number, o: LoadOptions): Promise<Load> {
  const end = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (performance.now() < end) {
        const headers = headerSets[requests % headerSets.length];
        const res = await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: o.body });
        await res.arrayBuffer();
        requests++;
        if (res.status >= 300) errors++;
      }
    }),
  );
  return { rps: requests / ((performance.now() - t0) / 1000), requests, errors };
}

export const haveWrk = Bun.which("wrk") !== null;

/** POSTs `o.body` to `url` for `seconds` from `o.connections` connections, taking the header sets in turn. */
export const postLoad: (url: string, headerSets: Record<string, string>[], seconds: number, o: LoadOptions) => Promise<Load> = haveWrk ? wrk : fetchLoad;

/**
 * Auth headers of `count` fresh accounts (an API key each, or a Bearer token). On a cluster, an
 * account is kept only while its master has fewer than its share, so the load spreads evenly.
 * Also returns how many accounts each master (or the one Redis) serves.
 */
export async function spreadAccounts(b: Bench, count: number, auth: "api-key" | "bearer" = "api-key"): Promise<{ headers: Record<string, string>[]; perMaster: Map<string, number> }> {
  const share = Math.ceil(count / b.redisPids.length);
  const perMaster = new Map<string, number>();
  const headers: Record<string, string>[] = [];
  for (let tries = 0; headers.length < count; tries++) {
    if (tries >= count * 20) throw new Error(`could not spread ${count} accounts over the masters`);
    const token = await b.account();
    const me = await b.json<{ id: string }>("GET", "/v1/auth/me", { token });
    const master = b.cluster ? await masterOf(b.deps.redis as Cluster, keys.outbox(shardOf(me.body.id))) : "redis";
    if ((perMaster.get(master) ?? 0) >= share) continue;
    perMaster.set(master, (perMaster.get(master) ?? 0) + 1);
    if (auth === "bearer") {
      headers.push({ authorization: `Bearer ${token}` });
      continue;
    }
    const created = await b.json<{ key: string }>("POST", "/v1/auth/api-keys", { token, body: { name: "bench" } });
    if (created.status !== 201) throw new Error(`api key: ${JSON.stringify(created.body)}`);
    headers.push({ "x-api-key": created.body.key });
  }
  return { headers, perMaster };
}

/**
 * The ingest benchmarks' baseline: a bare Bun.serve on a free loopback port that parses the JSON,
 * does one HSET through `client(i)` (request i) and answers 202.
 */
export function bareServer(client: (i: number) => Redis | Cluster) {
  let n = 0;
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const m = (await request.json()) as Record<string, unknown>;
      const id = Bun.randomUUIDv7();
      await client(n++).hset(`bench:bare:${id}`, "id", id, "tenant_id", String(m.tenant_id), "conversation_id", String(m.conversation_id),
        "role", String(m.role), "content", String(m.content), "metadata", JSON.stringify(m.metadata ?? null), "status", "pending");
      return Response.json({ id, status: "pending" }, { status: 202 });
    },
  });
}
