/**
 * Data lifecycle at scale, over real HTTP to the API run as a separate process (`bun src/main.ts`,
 * its VmRSS sampled every 50 ms from /proc), with one `bun workers/indexer.ts` (local model):
 *
 *  1. Import, re-embedding vs with vectors, at BENCH_REEMBED messages: the same lines imported into
 *     two tenants, once without vectors (stored pending and embedded by the worker; timed until every
 *     one is indexed) and once with vectors (stored indexed, no embedding). msg/s of each, the ratio.
 *  2. Import with vectors at BENCH_MESSAGES: msg/s, the API's peak RSS growth, slowest Redis commands.
 *  3. Export of that tenant without, then with vectors: msg/s, MB/s, API peak RSS growth, slowest
 *     commands; baseline: the same reads done here on Redis directly (pages of 500 of the tenant's time
 *     index, pipelined HGETALLs, the vectors by `readVectors`), without JSON or HTTP.
 *  4. Delete by filter of the whole tenant (`POST /v1/messages/delete` with a time range and a
 *     metadata value every message has), run by the worker: time until the job completes, msg/s, and
 *     the slowest Redis commands during it (SLOWLOG at >= 1 ms, grouped by command) and LATENCY LATEST.
 *
 * The vectors are random unit FLOAT32 vectors made here, labelled with the server's model, so that
 * BENCH_MESSAGES indexed messages exist without embedding as many texts (~35 min for 100k on 2 cores);
 * export and delete treat them as any other vector. The NDJSON is written to temporary files first
 * and streamed from them as request bodies (this process never holds one whole). Before each phase
 * SLOWLOG and LATENCY are reset (thresholds: 1 ms); "RSS growth" is the peak during a phase minus
 * the RSS just before it (Bun's GC is lazy and not forced, so garbage counts as growth).
 *
 * Each phase also prints INFO commandstats (mean time per call of the busiest commands) and how often
 * the OS preempted redis-server: on a shared 2-core machine a command's wall time (what SLOWLOG
 * measures) includes the time Redis was off the CPU, which the "fast-command" LATENCY event (commands
 * flagged fast: EXISTS, HGET, ZADD...) shows as the noise floor, except on the Query Engine, where an
 * HSET or DEL of a vector document does the HNSW work inside. One redis-server only (no BENCH_CLUSTER).
 *
 *   bun run bench/lifecycle.ts   (BENCH_MESSAGES=100000: 1,000-200,000; BENCH_REEMBED=5000: 100 up to
 *                                 BENCH_MESSAGES; BENCH_API_ARGS="--smol": extra bun flags for the API;
 *                                 BENCH_LOG_LEVEL;
 *                                 TEST_REDIS_ARGS="--loadmodule /opt/redisearch-build/redisearch.so"
 *                                 for the Query Engine)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { keys } from "../src/store/keys";
import { freePort } from "../src/store/redis-server";
import { sortedPage, type SortedPosition } from "../src/store/sorted-pages";
import { type Bench, chatTexts, fmt, mib, printWarnings, rng, rssOf, spawnWorker, startBench, usedMemory } from "./lib";

const clamp = (value: number, min: number, max: number) => Math.max(min, Math.min(max, Math.round(value)));
const MESSAGES = clamp(Number(process.env.BENCH_MESSAGES ?? 100_000), 1000, 200_000);
const REEMBED = clamp(Number(process.env.BENCH_REEMBED ?? 5000), 100, MESSAGES);
const PER_CONVERSATION = 100;
const DISTINCT_TEXTS = 5000;
const SPAN_MS = 100 * 86_400_000;
const SAMPLE_MS = 50;
/** Upper bounds of the waits (indexing at >= 20 msg/s, the delete job, the API's start). */
const INDEX_WAIT_S = 120 + REEMBED / 20;
const JOB_WAIT_S = 1800;
const READY_WAIT_S = 60;
const SLOW_US = 1000;
/** Extra `bun` flags for the API process, e.g. `--smol` (a smaller heap, collected more often). */
const API_ARGS = (process.env.BENCH_API_ARGS ?? "").split(/\s+/).filter(Boolean);

interface ImportReport {
  lines: number;
  imported: number;
  with_vectors: number;
  unchanged: number;
  conversations: number;
  rejected: number;
  errors: { line: number; message: string }[];
}

interface Phase {
  seconds: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  /** the API's RSS at each tenth of the phase */
  rssTenths: number[];
  workerPeak: number;
  slow: { us: number; label: string }[];
  latency: string[];
  /** INFO commandstats over the phase: the commands with the most time in all, [name, calls, usec per call] */
  busiest: [string, number, number][];
  /** times the OS took the CPU from redis-server during the phase (nonvoluntary_ctxt_switches) */
  preempted: number;
}

/** Writes NDJSON files: the bulk tenant (conversation lines, then messages with vectors) and the two small ones. */
async function writeFiles(dir: string, model: string) {
  const texts = chatTexts(DISTINCT_TEXTS, 7);
  const random = rng(11);
  const start = Date.now() - SPAN_MS - 86_400_000;
  const conversations = Math.ceil(MESSAGES / PER_CONVERSATION);
  const vector = () => {
    const v = new Float32Array(512);
    let norm = 0;
    for (let d = 0; d < v.length; d++) {
      v[d] = random() - 0.5;
      norm += v[d] * v[d];
    }
    norm = Math.sqrt(norm);
    for (let d = 0; d < v.length; d++) v[d] /= norm;
    return Buffer.from(v.buffer).toString("base64");
  };
  const message = (prefix: string, i: number, withVector: boolean) => {
    const createdAt = new Date(start + Math.floor((i * SPAN_MS) / MESSAGES)).toISOString();
    const line: Record<string, unknown> = {
      type: "message", id: `${prefix}-${i}`, conversation_id: `conv-${i % conversations}`, role: i % 2 ? "assistant" : "user",
      content: `${texts[i % DISTINCT_TEXTS]} [${i}]`, importance: (i % 10) / 10, metadata: { source: "bench", topic: `topic-${i % 7}`, n: i },
      created_at: createdAt,
    };
    if (withVector) Object.assign(line, { status: "indexed", indexed_at: createdAt, vector: vector(), vector_model: model });
    return `${JSON.stringify(line)}\n`;
  };
  const paths = { bulk: join(dir, "bulk.ndjson"), withVectors: join(dir, "small-vectors.ndjson"), plain: join(dir, "small-plain.ndjson") };
  const bulk = Bun.file(paths.bulk).writer({ highWaterMark: 1 << 20 });
  for (let c = 0; c < conversations; c++) {
    const at = new Date(start).toISOString();
    bulk.write(`${JSON.stringify({ type: "conversation", conversation_id: `conv-${c}`, title: `Conversation ${c}`, metadata: { n: c }, created_at: at, updated_at: at })}\n`);
  }
  for (let i = 0; i < MESSAGES; i++) bulk.write(message("b", i, true));
  await bulk.end();
  const small = Bun.file(paths.withVectors).writer({ highWaterMark: 1 << 20 });
  const plain = Bun.file(paths.plain).writer({ highWaterMark: 1 << 20 });
  for (let i = 0; i < REEMBED; i++) {
    small.write(message("v", i, true));
    plain.write(message("e", i, false));
  }
  await small.end();
  await plain.end();
  return paths;
}

/** VmRSS of some processes every SAMPLE_MS until stopped: each one's peak, and the first one's samples. */
function sampleRss(pids: number[]) {
  const peaks = pids.map(() => 0);
  const series: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const values = await Promise.all(pids.map(rssOf));
      values.forEach((v, i) => {
        if (v > peaks[i]) peaks[i] = v;
      });
      series.push(values[0]);
      await Bun.sleep(SAMPLE_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peaks, series };
    },
  };
}

/** How often the OS has preempted a process (nonvoluntary context switches), from /proc. */
async function preemptions(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text().catch(() => "");
  return Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** A slowlog entry's name: the command and its first key, ids and numbers masked; a script's key count. */
function slowLabel(args: string[], account: string): string {
  const mask = (key = "") => key.replaceAll(account, "<acct>").replace(/\d+/g, "#").slice(0, 60);
  const command = (args[0] ?? "?").toUpperCase();
  // EVAL's first argument is the source (a script's first use, or a NOSCRIPT fallback): its first words name it.
  const script = command === "EVAL" ? (args[1] ?? "").replace(/\s+/g, " ").trim().slice(0, 24) : (args[1] ?? "").slice(0, 8);
  if (command === "EVALSHA" || command === "EVAL") return `${command} ${script} (${args[2]} keys, first ${mask(args[3])})`;
  return `${command} ${mask(args[1])}`;
}

/** Runs a phase between SLOWLOG/LATENCY resets, sampling the API's (and worker's) RSS. */
async function measure(b: Bench, account: string, apiPid: number, workerPid: number, run: () => Promise<void>): Promise<Phase> {
  const redis = b.deps.redis;
  await redis.call("SLOWLOG", "RESET");
  await redis.call("LATENCY", "RESET");
  await redis.call("CONFIG", "RESETSTAT");
  const switches0 = await preemptions(b.redisPids[0]);
  const rssBefore = await rssOf(apiPid);
  const sampler = sampleRss([apiPid, workerPid]);
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const {
    peaks: [apiPeak, workerPeak],
    series,
  } = await sampler.stop();
  const entries = (await redis.call("SLOWLOG", "GET", "100000")) as [number, number, number, string[]][];
  const latest = (await redis.call("LATENCY", "LATEST")) as [string, number, number, number][];
  const rssAfter = await rssOf(apiPid);
  const preempted = (await preemptions(b.redisPids[0])) - switches0;
  const stats = [...((await redis.info("commandstats")) as string).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)];
  const busiest = stats
    .map((m) => [m[1], Number(m[2]), Number(m[3])] as const)
    .sort((x, y) => y[2] - x[2])
    .slice(0, 4)
    .map(([name, calls, usec]): [string, number, number] => [name, calls, usec / calls]);
  return {
    busiest,
    preempted,
    seconds,
    rssBefore,
    rssPeak: Math.max(apiPeak, rssBefore, rssAfter),
    rssAfter,
    rssTenths: Array.from({ length: 10 }, (_, i) => series[Math.max(0, Math.ceil(((i + 1) * series.length) / 10) - 1)] ?? Number.NaN),
    workerPeak,
    slow: entries.map(([, , us, args]) => ({ us, label: slowLabel(args, account) })),
    latency: latest.map(([event, , last, max]) => `${event}: max ${max} ms (latest ${last} ms)`),
  };
}

function printPhase(name: string, p: Phase, messages: number, extra = "") {
  console.log(`\n${name}: ${messages} messages in ${fmt(p.seconds, 2)} s = ${fmt(messages / p.seconds, 0)} msg/s${extra}`);
  console.log(`  API RSS before ${mib(p.rssBefore)}, peak ${mib(p.rssPeak)} (growth ${mib(p.rssPeak - p.rssBefore)}), after ${mib(p.rssAfter)}; worker peak ${mib(p.workerPeak)}`);
  if (p.seconds >= 1) console.log(`  API RSS at each tenth of the phase (MiB): ${p.rssTenths.map((v) => fmt(v / 1048576, 0)).join(" ")}`);
  if (p.slow.length === 0) console.log(`  Redis commands >= ${SLOW_US / 1000} ms: none`);
  else {
    const byLabel = new Map<string, { n: number; max: number; total: number }>();
    for (const { us, label } of p.slow) {
      const g = byLabel.get(label) ?? { n: 0, max: 0, total: 0 };
      byLabel.set(label, { n: g.n + 1, max: Math.max(g.max, us), total: g.total + us });
    }
    const longest = Math.max(...p.slow.map((s) => s.us));
    const over = (ms: number) => p.slow.filter((s) => s.us >= ms * 1000).length;
    console.log(
      `  Redis commands >= ${SLOW_US / 1000} ms: ${p.slow.length}${p.slow.length >= 100_000 ? "+ (slowlog full)" : ""} (>= 10 ms: ${over(10)}, >= 100 ms: ${over(100)}), longest ${fmt(longest / 1000, 2)} ms; by command (count, max, mean):`,
    );
    for (const [label, g] of [...byLabel].sort((x, y) => y[1].max - x[1].max).slice(0, 6)) {
      console.log(`    ${String(g.n).padStart(6)} x  max ${fmt(g.max / 1000, 2).padStart(7)} ms  mean ${fmt(g.total / g.n / 1000, 2).padStart(6)} ms  ${label}`);
    }
  }
  console.log(`  LATENCY LATEST (events >= 1 ms): ${p.latency.length ? p.latency.join("; ") : "none"}; redis-server preempted ${p.preempted} times`);
  console.log(`  Redis time by command (calls, mean): ${p.busiest.map(([name, calls, us]) => `${name} ${calls} x ${fmt(us / 1000, 3)} ms`).join(", ")}`);
}

async function main() {
  if (process.env.BENCH_CLUSTER === "1") throw new Error("bench/lifecycle.ts reads SLOWLOG and INFO of one redis-server: run it without BENCH_CLUSTER");
  const b = await startBench();
  const dir = mkdtempSync(join(tmpdir(), "mm-lifecycle-"));
  const port = await freePort();
  const api = Bun.spawn(["bun", "--max-http-header-size=65536", ...API_ARGS, `${new URL("..", import.meta.url).pathname}src/main.ts`], {
    env: {
      ...process.env, ...b.redisEnv, HOST: "127.0.0.1", PORT: String(port), API_METRICS_PORT: "0", NODE_ENV: "test", LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "error",
      RATE_LIMIT_REQUESTS: "10000000", ACCOUNT_RATE_LIMIT_REQUESTS: "100000000", MAX_IMPORT_BYTES: String(4 * 1024 ** 3), ACCESS_TOKEN_TTL_S: "86400",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const worker = spawnWorker(b);
  const base = `http://127.0.0.1:${port}`;
  try {
    const redis = b.deps.redis;
    await redis.call("CONFIG", "SET", "slowlog-log-slower-than", String(SLOW_US), "slowlog-max-len", "100000", "latency-monitor-threshold", "1");
    const token = await b.account();
    const account = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub as string;
    const auth = { authorization: `Bearer ${token}` };
    const model = b.deps.embedder.modelKey;
    const engine = b.deps.vectors.engine;

    const g0 = performance.now();
    const files = await writeFiles(dir, model);
    const bulkBytes = Bun.file(files.bulk).size;
    console.log(`lifecycle: engine ${engine}, ${MESSAGES} messages (${Math.ceil(MESSAGES / PER_CONVERSATION)} conversations), re-embed comparison at ${REEMBED}; ${cpus().length} CPUs, load average ${loadavg().map((x) => fmt(x)).join(" ")}`);
    console.log(`API: bun ${["--max-http-header-size=65536", ...API_ARGS].join(" ")} src/main.ts (pid ${api.pid}), worker pid ${worker.pid}, redis-server pid ${b.redisPids[0]}`);
    console.log(`NDJSON written in ${fmt((performance.now() - g0) / 1000, 1)} s: bulk ${mib(bulkBytes)} with vectors (${fmt(bulkBytes / MESSAGES, 0)} B/message); small ${mib(Bun.file(files.withVectors).size)} with, ${mib(Bun.file(files.plain).size)} without`);

    for (let t0 = performance.now(); ; await Bun.sleep(100)) {
      if ((await fetch(`${base}/health`).then((r) => r.status).catch(() => 0)) === 200) break;
      if (performance.now() - t0 > READY_WAIT_S * 1000) throw new Error("the API did not start");
    }

    const importFile = async (tenant: string, path: string): Promise<ImportReport> => {
      const res = await fetch(`${base}/v1/tenants/${tenant}/import`, { method: "POST", headers: { ...auth, "content-type": "application/x-ndjson" }, body: Bun.file(path) });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`import into ${tenant}: ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
      return body as ImportReport;
    };
    const counts = async (tenant: string) => (await b.json("GET", `/v1/tenants/${tenant}`, { token })).body as { messages: number; pending: number; indexed: number; failed: number };
    const untilIndexed = async (tenant: string, total: number, seconds: number) => {
      const t0 = performance.now();
      for (;;) {
        const c = await counts(tenant);
        if ((c.pending === 0 && c.indexed + c.failed >= total) || performance.now() - t0 > seconds * 1000) return c;
        await Bun.sleep(100);
      }
    };
    const report = (r: ImportReport) => `lines ${r.lines}, imported ${r.imported} (${r.with_vectors} with vectors), unchanged ${r.unchanged}, conversations ${r.conversations}, rejected ${r.rejected}${r.errors.length ? ` (first: line ${r.errors[0].line}: ${r.errors[0].message})` : ""}`;

    // Warm-up: the worker loads its model, the API compiles the import, export and job routes.
    const warm = join(dir, "warm.ndjson");
    await Bun.write(warm, (await Bun.file(files.plain).text()).split("\n").slice(0, 20).map((l) => l.replace(/"id":"e-/, '"id":"w-')).join("\n"));
    await importFile("warmup", warm);
    console.log(`warm-up: ${JSON.stringify(await untilIndexed("warmup", 20, 120))}`);
    await (await fetch(`${base}/v1/tenants/warmup/export?include_vectors=true`, { headers: auth })).arrayBuffer();

    // 1. Import with vs without vectors, at the same size.
    let withReport: ImportReport | undefined;
    const small = await measure(b, account, api.pid, worker.pid, async () => {
      withReport = await importFile("small-vectors", files.withVectors);
    });
    printPhase(`1a. import WITH vectors (tenant small-vectors)`, small, REEMBED, `; ${withReport && report(withReport)}`);
    let plainReport: ImportReport | undefined;
    let requestS = 0;
    let final = { messages: 0, pending: 0, indexed: 0, failed: 0 };
    const reembed = await measure(b, account, api.pid, worker.pid, async () => {
      const t0 = performance.now();
      plainReport = await importFile("small-plain", files.plain);
      requestS = (performance.now() - t0) / 1000;
      final = await untilIndexed("small-plain", REEMBED, INDEX_WAIT_S);
    });
    printPhase(
      `1b. import WITHOUT vectors, re-embedded by the worker until all indexed (tenant small-plain)`,
      reembed,
      REEMBED,
      `; the import request itself ${fmt(requestS, 2)} s; ${plainReport && report(plainReport)}; at the end ${JSON.stringify(final)}`,
    );
    const ratio = REEMBED / small.seconds / (REEMBED / reembed.seconds);
    console.log(`\n=> import with vectors / import that re-embeds, msg/s at ${REEMBED} messages: ${fmt(ratio, 1)} x (goal >= 10 x)`);

    // 2. Import with vectors at full size.
    let bulkReport: ImportReport | undefined;
    const bulk = await measure(b, account, api.pid, worker.pid, async () => {
      bulkReport = await importFile("bulk", files.bulk);
    });
    printPhase(`2. import WITH vectors (tenant bulk, ${mib(bulkBytes)})`, bulk, MESSAGES, `, ${fmt(bulkBytes / 1048576 / bulk.seconds, 1)} MiB/s; ${bulkReport && report(bulkReport)}`);
    console.log(`  tenant bulk: ${JSON.stringify(await counts("bulk"))}; Redis used_memory ${mib(await usedMemory(redis))}`);
    console.log(`  => ratio at full size vs 1b: ${fmt(MESSAGES / bulk.seconds / (REEMBED / reembed.seconds), 1)} x`);

    // 3. Export without and with vectors, each next to raw reads of the same data.
    for (const vectors of [false, true]) {
      let lines = 0;
      let bytes = 0;
      const phase = await measure(b, account, api.pid, worker.pid, async () => {
        const res = await fetch(`${base}/v1/tenants/bulk/export${vectors ? "?include_vectors=true" : ""}`, { headers: auth });
        if (res.status !== 200 || !res.body) throw new Error(`export: ${res.status} ${await res.text()}`);
        for await (const chunk of res.body) {
          bytes += chunk.byteLength;
          for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines++;
        }
      });
      printPhase(`3${vectors ? "b" : "a"}. export ${vectors ? "WITH" : "without"} vectors`, phase, MESSAGES, `, ${fmt(bytes / 1048576 / phase.seconds, 1)} MiB/s; ${lines} lines, ${mib(bytes)}`);
      const r0 = performance.now();
      let after: SortedPosition | undefined;
      let read = 0;
      for (let step = 0; step <= MESSAGES / 500 + 1; step++) {
        const entries = await sortedPage(redis, keys.tenantMessages(account, "bulk"), { after }, 500);
        const pipeline = redis.pipeline();
        for (const e of entries) pipeline.hgetall(keys.message(account, e.member));
        await pipeline.exec();
        if (vectors) await b.deps.vectors.readVectors(account, "bulk", entries.map((e) => e.member));
        read += entries.length;
        after = entries[entries.length - 1];
        if (entries.length < 500) break;
      }
      const rawS = (performance.now() - r0) / 1000;
      console.log(`  baseline, raw Redis reads of the same ${read} messages from this process: ${fmt(rawS, 2)} s = ${fmt(read / rawS, 0)} msg/s (export / raw: ${fmt(rawS / phase.seconds, 2)})`);
    }

    // 4. Delete by filter: every message of the bulk tenant, selected by time range and metadata.
    const filter = { tenant_id: "bulk", created_before: new Date().toISOString(), metadata: { source: "bench" } };
    type Job = { id: string; status: string; deleted: number; started_at: string | null; finished_at: string | null };
    let job: Job | undefined;
    const del = await measure(b, account, api.pid, worker.pid, async () => {
      const res = await fetch(`${base}/v1/messages/delete`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(filter) });
      let current = (await res.json()) as Job;
      if (res.status !== 202) throw new Error(`delete: ${res.status} ${JSON.stringify(current)}`);
      const t0 = performance.now();
      while (current.status !== "completed" && current.status !== "failed" && performance.now() - t0 < JOB_WAIT_S * 1000) {
        await Bun.sleep(100);
        current = (await b.json<Job>("GET", `/v1/jobs/${current.id}`, { token })).body;
      }
      job = current;
    });
    const deleted = job?.deleted ?? 0;
    const jobS = job?.started_at && job.finished_at ? (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000 : Number.NaN;
    printPhase(`4. delete by filter ${JSON.stringify(filter)}`, del, deleted, `; job ${job?.status}, deleted ${deleted}, run by the worker in ${fmt(jobS, 2)} s (started_at -> finished_at)`);
    console.log(`  tenant bulk after: ${JSON.stringify(await counts("bulk"))}; Redis used_memory ${mib(await usedMemory(redis))}`);
    console.log(`  => delete ${fmt(deleted / del.seconds, 0)} msg/s vs import with vectors ${fmt(MESSAGES / bulk.seconds, 0)} msg/s (same data)`);
    printWarnings(b.warnings);
  } finally {
    await worker.stop();
    api.kill("SIGTERM");
    await Promise.race([api.exited, Bun.sleep(20_000)]);
    if (api.exitCode === null) api.kill("SIGKILL");
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
