/**
 * Ingest requests/s of POST /v1/messages over real HTTP (the app on a free loopback port), next
 * to a bare Bun.serve handler that parses the JSON and does one HSET on the same Redis (ioredis,
 * auto-pipelining on: the faster setting for it, so the stricter baseline). Load comes
 * from wrk when installed (`apt-get install -y wrk`), else from in-process fetch clients. No
 * indexing worker runs: this measures accepting (one ACCEPT script: rate charge, store, outbox,
 * dispatch entry, publish), not embedding.
 *
 * The two alternate in short rounds, in ABBA order (bare then API, then API then bare, ...), so
 * that the speed swings of a shared machine (tens of seconds at half speed, seen here) hit both
 * alike; the ratio reported is the median of the rounds' ratios. Each line also shows the CPU time
 * per request of this process (the HTTP server) and of Redis (every node's, on a cluster).
 *
 * BENCH_CLUSTER=1 runs both on a 3-master Redis Cluster: the API with REDIS_CLUSTER=true, the
 * baseline through an ioredis Cluster client (auto-pipelining too; its HSET keys spread over the
 * masters). The API's load comes from BENCH_ACCOUNTS accounts (API keys taken in turn, request by
 * request); on a cluster they are picked so that each master serves as many of them (an account's
 * keys live in one shard, so one account alone would load one master). Default: 1 account on one
 * redis-server, one per master on a cluster.
 *
 *   bun run bench/ingest.ts      (BENCH_CONNECTIONS=32, BENCH_SECONDS=3, BENCH_ROUNDS=10,
 *                                 BENCH_AUTH=api-key or bearer, BENCH_CLUSTER=1,
 *                                 BENCH_ACCOUNTS)
 */
import { Cluster, Redis } from "ioredis";
import { keys } from "../src/store/keys";
import { clusterSeeds, waitReady } from "../src/store/redis";
import { freePort } from "../src/store/redis-server";
import { BODY, bareServer, haveWrk, postLoad, spreadAccounts } from "./http-load";
import { cpuMsOf, cpuMsOfAll, fmt, percentile, printWarnings, startBench, sumShards } from "./lib";

const CONNECTIONS = Math.min(256, Number(process.env.BENCH_CONNECTIONS ?? 32));
const SECONDS = Math.min(60, Number(process.env.BENCH_SECONDS ?? 3));
const ROUNDS = Math.min(20, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 10)));
const WARMUP_S = 5;
const AUTH = process.env.BENCH_AUTH === "bearer" ? "bearer" : "api-key";
const ACCOUNTS = process.env.BENCH_ACCOUNTS === undefined ? undefined : Math.min(64, Math.max(1, Number(process.env.BENCH_ACCOUNTS)));

const loadOptions = { body: BODY, connections: CONNECTIONS };

async function main() {
  const b = await startBench();
  // The baseline's client auto-pipelines: for this one-HSET handler that is ioredis' faster setting.
  const bare = b.cluster
    ? new Cluster(clusterSeeds(b.redisUrl), { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 1 } })
    : new Redis(b.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  let server: ReturnType<typeof Bun.serve> | undefined;
  try {
    await waitReady(bare);
    const users = await spreadAccounts(b, ACCOUNTS ?? b.redisPids.length, AUTH);
    const appPort = await freePort();
    b.app.listen({ hostname: "127.0.0.1", port: appPort, maxRequestBodySize: b.config.MAX_BODY_BYTES + 1024 });
    server = bareServer(() => bare);
    console.log(
      `ingest benchmark: ${haveWrk ? "wrk -t1" : "in-process fetch clients"}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ` +
        `${SECONDS} s each (after a ${WARMUP_S} s warm-up), body ${BODY.length} bytes, auth ${AUTH === "bearer" ? "Authorization: Bearer" : "x-api-key"}, ` +
        `${b.cluster ? `Redis Cluster of ${b.redisPids.length} masters` : "one redis-server"}, ` +
        `${users.headers.length} account(s) (per ${b.cluster ? "master" : "Redis"}: ${[...users.perMaster.values()].join(", ")})`,
    );
    const json = { "content-type": "application/json" };
    const targets = [
      { name: "bare Bun.serve + JSON.parse + HSET", url: `http://127.0.0.1:${server.port}/`, headers: [json] },
      { name: "API POST /v1/messages", url: `http://127.0.0.1:${appPort}/v1/messages`, headers: users.headers.map((h) => ({ ...json, ...h })) },
    ];
    for (const t of targets) await postLoad(t.url, t.headers, WARMUP_S, loadOptions);

    const ratios: number[] = [];
    const totals = [0, 0];
    for (let round = 1; round <= ROUNDS; round++) {
      const rps: number[] = [];
      const order = round % 2 === 1 ? [0, 1] : [1, 0];
      for (const i of order) {
        const t = targets[i];
        const before = [await cpuMsOf(process.pid), await cpuMsOfAll(b.redisPids)];
        const result = await postLoad(t.url, t.headers, SECONDS, loadOptions);
        const [server, redis] = [(await cpuMsOf(process.pid)) - before[0], (await cpuMsOfAll(b.redisPids)) - before[1]];
        const perReq = (ms: number) => fmt((ms * 1000) / Math.max(1, result.requests), 0).padStart(4);
        const lat = result.p50 ? `  p50 ${result.p50} p99 ${result.p99}` : "";
        console.log(
          `round ${round}  ${t.name.padEnd(36)} ${fmt(result.rps, 0).padStart(7)} req/s  (${result.requests} requests, ` +
            `${result.errors} errors)  CPU/request: server ${perReq(server)} us, redis ${perReq(redis)} us${lat}${result.errors ? "  <-- NOT ALL 202" : ""}`,
        );
        rps[i] = result.rps;
        totals[i] += result.rps;
      }
      ratios.push(rps[1] / rps[0]);
    }

    const outbox = await sumShards((k) => b.deps.redis.zcard(keys.outbox(k)));
    console.log(`messages stored and waiting for indexing (outbox): ${outbox}`);
    printWarnings(b.warnings);
    console.log(`mean: bare ${fmt(totals[0] / ROUNDS, 0)} req/s, API ${fmt(totals[1] / ROUNDS, 0)} req/s`);
    console.log(`ratio API / bare per round: ${ratios.map((r) => fmt(r, 3)).join(", ")}`);
    console.log(`ratio API / bare (median of rounds): ${fmt(percentile(ratios, 50), 3)} (goal >= 0.5)`);
  } finally {
    server?.stop(true);
    await b.app.stop().catch(() => undefined);
    bare.disconnect();
    await b.close();
  }
}

await main();
process.exit(0);
