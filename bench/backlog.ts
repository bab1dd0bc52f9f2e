/**
 * Outbox sweeper under an ordinary backlog: BENCH_MESSAGES (default 6000) messages accepted at
 * once through the API (in process), drained by two `bun workers/indexer.ts` processes with the
 * real local model. Counts the sweeper's re-drives (its warn line in the workers' logs) and the
 * texts embedded beyond one per message (the workers' embed batch-size histograms).
 *
 *   bun run bench/backlog.ts            (BENCH_MESSAGES=6000, BENCH_WORKERS=2)
 */
import { keys } from "../src/store/keys";
import { chatTexts, startBench, sumShards } from "./lib";

const TOTAL = Math.min(20_000, Number(process.env.BENCH_MESSAGES ?? 6000));
const WORKERS = Math.min(4, Number(process.env.BENCH_WORKERS ?? 2));
const BATCH_REQUEST_SIZE = 500;
const DEADLINE_MS = 900_000;
const REDRIVE = "outbox: queued messages whose job was missing";

/** A port nobody listens on right now (for a worker's /metrics). */
function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

async function main() {
  const b = await startBench();
  const redrives: { requeued: number; t: number }[] = [];
  const t0 = performance.now();
  const workers = Array.from({ length: WORKERS }, () => {
    const port = freePort();
    const proc = Bun.spawn(["bun", `${new URL("..", import.meta.url).pathname}workers/indexer.ts`], {
      env: { ...process.env, ...b.redisEnv, LOG_LEVEL: "warn", WORKER_METRICS_PORT: String(port), HOST: "127.0.0.1", NODE_ENV: "test" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    void (async () => {
      let rest = "";
      for await (const bytes of proc.stdout) {
        const lines = (rest + new TextDecoder().decode(bytes)).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          const entry = JSON.parse(line);
          if (entry.msg === REDRIVE) redrives.push({ requeued: entry.requeued, t: (performance.now() - t0) / 1000 });
          else console.log(`worker ${proc.pid}: ${line}`);
        }
      }
    })();
    return { proc, port };
  });
  try {
    const token = await b.account();
    const texts = chatTexts(TOTAL, 11);
    const msg = (i: number) => ({ tenant_id: "backlog", conversation_id: `conv-${i % 40}`, role: "user", content: texts[i] });
    const posts = [];
    for (let i = 0; i < TOTAL; i += BATCH_REQUEST_SIZE) {
      const messages = Array.from({ length: Math.min(BATCH_REQUEST_SIZE, TOTAL - i) }, (_, k) => msg(i + k));
      posts.push(b.json("POST", "/v1/messages/batch", { token, body: { messages } }));
    }
    const answers = await Promise.all(posts);
    const refused = answers.filter((a) => a.status !== 202);
    if (refused.length > 0) throw new Error(`batch answered ${refused[0].status}: ${JSON.stringify(refused[0].body)}`);
    console.log(`accepted ${TOTAL} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${WORKERS} workers draining`);

    const redis = b.deps.redis;
    let last = 0;
    while (performance.now() - t0 < DEADLINE_MS) {
      const [outbox, live] = await Promise.all([
        sumShards((k) => redis.zcard(keys.outbox(k))),
        sumShards(async (k) => {
          const counts = await b.deps.queues[k].getJobCounts("wait", "active", "delayed");
          return counts.wait + counts.active + counts.delayed;
        }),
      ]);
      if (performance.now() - last > 10_000) {
        last = performance.now();
        console.log(`${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s  outbox ${outbox}  jobs live ${live}  redrives so far ${redrives.length} (${redrives.reduce((n, r) => n + r.requeued, 0)} messages)`);
      }
      if (outbox === 0 && live === 0) break;
      await Bun.sleep(250);
    }
    const drainS = (performance.now() - t0) / 1000;
    const stats = { accepted: 0, indexed: 0, failed: 0 };
    for (const state of ["accepted", "indexed", "failed"] as const) stats[state] = await sumShards(async (k) => Number((await redis.hget(keys.stats(k), state)) ?? 0));
    let embedded = 0;
    for (const { port } of workers) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      embedded += Number(/^memory_mesh_embed_batch_size_sum (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    }
    console.log("");
    console.log(`drained in ${drainS.toFixed(1)} s: accepted ${stats.accepted}, indexed ${stats.indexed}, failed ${stats.failed ?? 0}`);
    console.log(`sweeper re-drives: ${redrives.length} (${redrives.reduce((n, r) => n + r.requeued, 0)} messages) at ${redrives.map((r) => `${r.t.toFixed(0)} s:${r.requeued}`).join(", ") || "-"}`);
    console.log(`texts embedded: ${embedded} for ${TOTAL} messages (${embedded - TOTAL} embedded more than once)`);
  } finally {
    for (const { proc } of workers) proc.kill("SIGTERM");
    await Promise.all(workers.map(({ proc }) => proc.exited));
    await b.close();
  }
}

await main();
