import type { Cluster } from "ioredis";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RedisServer, splitArgs, startRedisServer } from "../../src/store/redis-server";

export interface TestCluster {
  /** every node, masters first as created */
  nodes: (RedisServer & { dir: string })[];
  /** `redis://127.0.0.1:p1,redis://127.0.0.1:p2,...`: what REDIS_URL takes for a cluster */
  url: string;
  /** Stops every node (by pid) and removes their folders. */
  stop(): Promise<void>;
}

/** A port whose cluster bus port (+10000) is free as well. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = Bun.listen({ hostname: "127.0.0.1", port: port + 10_000, socket: { data() {} } });
      server.stop(true);
      resolve(true);
    }).catch(() => false);
    if (bus) return port;
  }
}

async function cli(args: string[]): Promise<string> {
  const proc = Bun.spawn(["redis-cli", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`redis-cli ${args.join(" ")} failed: ${err || out}`);
  return out;
}

/**
 * A real Redis Cluster from Debian's redis-server for one test file: `masters` masters and
 * `replicas` replicas each (or one master serving every slot, with no replica), on free loopback ports, created with `redis-cli --cluster create`,
 * stopped by pid. `TEST_CLUSTER_ARGS` adds flags to every node (e.g. `--loadmodule
 * .../module-oss.so PARTITIONS AUTO` for the Query Engine's coordinator). Never the machine's Redis.
 */
export async function startTestCluster(options: { masters?: number; replicas?: number } = {}): Promise<TestCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodes: TestCluster["nodes"] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const dir = mkdtempSync(join(tmpdir(), "mm-cluster-"));
      const port = await clusterPort();
      const server = await startRedisServer({
        bin: process.env.REDIS_SERVER_BIN ?? "redis-server",
        dir,
        port,
        appendonly: false,
        extraArgs: [
          "--cluster-enabled", "yes", "--cluster-config-file", `${dir}/nodes.conf`, "--cluster-node-timeout", "2000",
          // A lone node learns no address from its peers: it announces the loopback one.
          ...(masters === 1 && replicas === 0 ? ["--cluster-announce-ip", "127.0.0.1"] : []),
          ...splitArgs(process.env.TEST_CLUSTER_ARGS ?? ""),
        ],
      });
      nodes.push({ ...server, dir });
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    if (masters === 1 && replicas === 0) {
      // `redis-cli --cluster create` wants 3 masters; one node that serves every slot is made by hand.
      await cli(["-p", String(nodes[0].port), "cluster", "addslotsrange", "0", "16383"]);
    } else {
      await cli(["--cluster", "create", ...addresses, "--cluster-replicas", String(replicas), "--cluster-yes"]);
    }
    // Every node must see every slot served before clients connect.
    const deadline = Date.now() + 30_000;
    for (const n of nodes) {
      while (!(await cli(["-p", String(n.port), "cluster", "info"])).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} never reached cluster_state:ok`);
        await Bun.sleep(100);
      }
    }
    // Replicas must be attached and in sync before a master may be lost (else no failover happens).
    if (replicas > 0) {
      for (const n of nodes) {
        for (;;) {
          const info = await cli(["-p", String(n.port), "info", "replication"]);
          const master = info.includes("role:master");
          if (master ? Number(/connected_slaves:(\d+)/.exec(info)?.[1]) >= replicas : info.includes("master_link_status:up")) break;
          if (Date.now() > deadline) throw new Error(`cluster node ${n.port}: replication not up`);
          await Bun.sleep(100);
        }
      }
    }
    return { nodes, url: addresses.map((a) => `redis://${a}`).join(","), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The master that serves a key, as the cluster itself says (CLUSTER KEYSLOT, CLUSTER SLOTS): "host:port". */
export async function masterOf(client: Cluster, key: string): Promise<string> {
  const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
  const ranges = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
  const range = ranges.find(([low, high]) => slot >= low && slot <= high);
  if (!range) throw new Error(`no master serves slot ${slot}`);
  return `${range[2][0]}:${range[2][1]}`;
}
