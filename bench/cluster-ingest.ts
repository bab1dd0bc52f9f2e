/**
 * What running on a Redis Cluster costs ingest on this machine, and where it comes from. One
 * process holds three copies of the app (deps + Elysia app on a free loopback port each): on one
 * redis-server, on a one-master cluster (a cluster-mode node serving every slot) and on a
 * 3-master cluster, plus three bare handlers (Bun.serve + JSON.parse + one HSET, auto-pipelined
 * as in bench/ingest.ts): on the one redis-server, on three plain redis-servers the handler
 * shards over by itself (no cluster anywhere), and on the 3-master cluster through an ioredis
 * `Cluster`. Each round runs wrk against every target for BENCH_SECONDS, in a rotating order, so a
 * shared machine's slow phases hit all alike; figures are medians of the rounds' ratios to the
 * one-redis-server target of the same kind:
 *
 * - API, 1-master cluster / one Redis: the cluster path itself (the `Cluster` client and its slot
 *   routing, a cluster-mode server, sharded pub/sub through the cluster subscriber) at the same
 *   number of Redis processes;
 * - bare, 3 plain Redis / one Redis: what spreading Redis over three processes costs on this
 *   machine's cores with no cluster in the way (the control);
 * - API and bare, 3-master cluster / one Redis: both together (the figure of bench/ingest.ts
 *   BENCH_CLUSTER=1 vs one Redis).
 *
 * The API's load is three accounts (API keys taken in turn), one per master on the 3-master
 * cluster. No worker runs: accepting only.
 *
 *   bun run bench/cluster-ingest.ts   (BENCH_CONNECTIONS=32, BENCH_SECONDS=3, BENCH_ROUNDS=6)
 */
import { Cluster, Redis } from "ioredis";
import { clusterSeeds, waitReady } from "../src/store/redis";
import { freePort } from "../src/store/redis-server";
import { startTestRedis } from "../test/helpers/redis";
import { BODY, bareServer, haveWrk, type Load, postLoad, spreadAccounts } from "./http-load";
import { type Bench, type BenchRedis, cpuMsOf, cpuMsOfAll, fmt, percentile, printWarnings, startBench } from "./lib";

const CONNECTIONS = Math.min(256, Number(process.env.BENCH_CONNECTIONS ?? 32));
const SECONDS = Math.min(60, Number(process.env.BENCH_SECONDS ?? 3));
const ROUNDS = Math.min(20, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 6)));
const WARMUP_S = 3;
const loadOptions = { body: BODY, connections: CONNECTIONS };
const JSON_HEADERS = { "content-type": "application/json" };

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>[];
  /** the redis-servers this target's requests land on (for CPU per request) */
  redisPids: number[];
  loads: Load[];
  serverUs: number[];
  redisUs: number[];
}

async function main() {
  const setups: [string, BenchRedis][] = [
    ["one Redis", { cluster: false }],
    ["1-master cluster", { cluster: true, masters: 1 }],
    ["3-master cluster", { cluster: true, masters: 3 }],
  ];
  const benches: Bench[] = [];
  const plain: Awaited<ReturnType<typeof startTestRedis>>[] = [];
  const clients: (Redis | Cluster)[] = [];
  const servers: { stop(force?: boolean): unknown }[] = [];
  try {
    const targets: Target[] = [];
    const target = (name: string, url: string, headers: Record<string, string>[], redisPids: number[]) =>
      targets.push({ name, url, headers, redisPids, loads: [], serverUs: [], redisUs: [] });
    for (const [name, topology] of setups) {
      const b = await startBench({}, undefined, topology);
      benches.push(b);
      const users = await spreadAccounts(b, 3);
      const port = await freePort();
      b.app.listen({ hostname: "127.0.0.1", port, maxRequestBodySize: b.config.MAX_BODY_BYTES + 1024 });
      target(`API, ${name}`, `http://127.0.0.1:${port}/v1/messages`, users.headers.map((h) => ({ ...JSON_HEADERS, ...h })), b.redisPids);
    }
    const [single, , three] = benches;
    for (let i = 0; i < 3; i++) plain.push(await startTestRedis());
    const singleClient = new Redis(single.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    const plainClients = plain.map((p) => new Redis(p.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }));
    const clusterClient = new Cluster(clusterSeeds(three.redisUrl), { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 1 } });
    clients.push(singleClient, ...plainClients, clusterClient);
    await Promise.all(clients.map((c) => waitReady(c)));
    const bare: [string, (i: number) => Redis | Cluster, number[]][] = [
      ["bare, one Redis", () => singleClient, single.redisPids],
      ["bare, 3 plain Redis (client-sharded)", (i) => plainClients[i % 3], plain.map((p) => p.pid)],
      ["bare, 3-master cluster", () => clusterClient, three.redisPids],
    ];
    for (const [name, client, pids] of bare) {
      const server = bareServer(client);
      servers.push(server);
      target(name, `http://127.0.0.1:${server.port}/`, [JSON_HEADERS], pids);
    }

    console.log(
      `cluster ingest benchmark: ${haveWrk ? "wrk -t1" : "in-process fetch clients"}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ` +
        `${SECONDS} s per target (after ${WARMUP_S} s of warm-up each), body ${BODY.length} bytes, x-api-key, 3 accounts`,
    );
    for (const t of targets) await postLoad(t.url, t.headers, WARMUP_S, loadOptions);
    for (let round = 0; round < ROUNDS; round++) {
      const rotated = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of round % 2 === 0 ? rotated : rotated.reverse()) {
        const before = [await cpuMsOf(process.pid), await cpuMsOfAll(t.redisPids)];
        const result = await postLoad(t.url, t.headers, SECONDS, loadOptions);
        const perRequest = (ms: number) => (ms * 1000) / Math.max(1, result.requests);
        t.loads.push(result);
        t.serverUs.push(perRequest((await cpuMsOf(process.pid)) - before[0]));
        t.redisUs.push(perRequest((await cpuMsOfAll(t.redisPids)) - before[1]));
        console.log(
          `round ${round + 1}  ${t.name.padEnd(38)} ${fmt(result.rps, 0).padStart(7)} req/s  CPU/request: server ${fmt(t.serverUs.at(-1) ?? 0, 0).padStart(4)} us, ` +
            `redis ${fmt(t.redisUs.at(-1) ?? 0, 0).padStart(4)} us${result.errors ? `  <-- ${result.errors} NOT 2xx` : ""}`,
        );
      }
    }

    console.log("\nmedians over the rounds:");
    console.log(`${"target".padEnd(38)} ${"req/s".padStart(7)}  server us  redis us  ratio to one Redis (median of rounds)`);
    const [apiOne, , , bareOne] = targets;
    for (const [i, t] of targets.entries()) {
      const base = i < 3 ? apiOne : bareOne;
      const ratios = t.loads.map((l, r) => l.rps / base.loads[r].rps);
      console.log(
        `${t.name.padEnd(38)} ${fmt(percentile(t.loads.map((l) => l.rps), 50), 0).padStart(7)}  ${fmt(percentile(t.serverUs, 50), 0).padStart(9)}  ` +
          `${fmt(percentile(t.redisUs, 50), 0).padStart(8)}  ${t === base ? "-" : fmt(percentile(ratios, 50), 3)}`,
      );
    }
    for (const b of benches) printWarnings(b.warnings);
  } finally {
    for (const s of servers) s.stop(true);
    for (const c of clients) c.disconnect();
    for (const b of benches) {
      await b.app.stop().catch(() => undefined);
      await b.close();
    }
    for (const p of plain) await p.stop();
  }
}

await main();
process.exit(0);
