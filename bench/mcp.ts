/**
 * MCP `search_memory` next to the REST search it wraps, over real HTTP on one loopback port, the
 * same query repeated (its embedding cached), calls interleaved (REST, MCP raw, MCP SDK, ...) so
 * both see the same machine: REST `POST /v1/memory/search`; MCP as one JSON-RPC `tools/call` POST to
 * /mcp (what any Streamable HTTP client sends per call); and through the official SDK client (its
 * own work included). Reports p50/p95 and the MCP overhead at p50 (goal < 1 ms).
 *
 *   bun run bench/mcp.ts            (BENCH_MESSAGES, default 300; BENCH_ITERATIONS, default 1000)
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startIndexingWorker } from "../src/memory/worker";
import { chatTexts, fmt, percentile, startBench } from "./lib";

const MESSAGES = Math.min(5000, Number(process.env.BENCH_MESSAGES ?? 300));
const ITERATIONS = Math.min(10_000, Number(process.env.BENCH_ITERATIONS ?? 1000));
const WARMUP = 100;
const DEADLINE_MS = 180_000;
const QUERY = "what did they say about the weekend trip";

async function main() {
  const b = await startBench({ RATE_LIMIT_REQUESTS: "10000000", ACCOUNT_RATE_LIMIT_REQUESTS: "10000000", EMBED_BATCH_WAIT_MS: "10" });
  const server = b.app.listen({ port: 0, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${server.server?.port}`;
  const worker = startIndexingWorker(b.deps);
  try {
    const token = await b.account();
    const texts = chatTexts(MESSAGES, 5);
    for (let i = 0; i < texts.length; i += 500) {
      const messages = texts.slice(i, i + 500).map((content, j) => ({ tenant_id: "bench", conversation_id: `c${(i + j) % 20}`, role: j % 2 ? "assistant" : "user", content }));
      await b.json("POST", "/v1/messages/batch", { token, body: { messages } });
    }
    const end = Date.now() + DEADLINE_MS;
    while ((await b.json<{ pending: number }>("GET", "/v1/tenants/bench", { token })).body.pending > 0) {
      if (Date.now() > end) throw new Error("indexing did not finish");
      await Bun.sleep(200);
    }
    const auth = { authorization: `Bearer ${token}` };
    const args = { tenant_id: "bench", query: QUERY, top_k: 5 };
    const rest = async () => {
      const res = await fetch(`${base}/v1/memory/search`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(args) });
      if (res.status !== 200) throw new Error(`REST answered ${res.status}`);
      return ((await res.json()) as { results: { id: string }[] }).results.map((r) => r.id);
    };
    let id = 0;
    const raw = async () => {
      const res = await fetch(`${base}/mcp`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name: "search_memory", arguments: args } }),
      });
      const body = (await res.json()) as { result?: { structuredContent: { results: { id: string }[] } }; error?: unknown };
      if (!body.result) throw new Error(`MCP answered ${res.status}: ${JSON.stringify(body)}`);
      return body.result.structuredContent.results.map((r) => r.id);
    };
    const client = new Client({ name: "bench", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: auth } }));
    await client.listTools();
    const sdk = async () => {
      const result = (await client.callTool({ name: "search_memory", arguments: args })) as unknown as { structuredContent: { results: { id: string }[] } };
      return result.structuredContent.results.map((r) => r.id);
    };
    const same = JSON.stringify(await rest());
    if (JSON.stringify(await raw()) !== same || JSON.stringify(await sdk()) !== same) throw new Error("MCP and REST disagree on the results");

    const runs: [string, () => Promise<unknown>][] = [["REST POST /v1/memory/search", rest], ["MCP tools/call (one POST /mcp)", raw], ["MCP via the SDK client", sdk]];
    const times = runs.map(() => [] as number[]);
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      for (const [k, [, run]] of runs.entries()) {
        const t0 = performance.now();
        await run();
        if (i >= WARMUP) times[k].push(performance.now() - t0);
      }
    }
    console.log(`MCP overhead benchmark: ${MESSAGES} indexed messages, engine=${b.deps.vectors.engine}, top_k=5, ${ITERATIONS} interleaved calls each, loopback HTTP`);
    for (const [k, [name]] of runs.entries()) {
      console.log(`${name.padEnd(32)} p50 ${fmt(percentile(times[k], 50), 3)} ms  p95 ${fmt(percentile(times[k], 95), 3)} ms  p99 ${fmt(percentile(times[k], 99), 3)} ms`);
    }
    const restP50 = percentile(times[0], 50);
    console.log(`overhead at p50: MCP tools/call ${fmt(percentile(times[1], 50) - restP50, 3)} ms, SDK client ${fmt(percentile(times[2], 50) - restP50, 3)} ms (goal < 1 ms)`);
    await client.close();
  } finally {
    await worker.close();
    server.stop(true);
    await b.close();
  }
}

await main();
