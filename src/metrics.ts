import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Deps } from "./deps";
import { keys } from "./store/keys";

/** Cluster-wide counters kept in Redis, bumped by the Lua scripts that change a message's state. */
export const STAT_FIELDS = ["accepted", "indexed", "failed"] as const;

export interface ApiMetrics {
  registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface WorkerMetrics {
  registry: Registry;
  batchSize: Histogram;
  batchSeconds: Histogram;
  embedErrors: Counter;
}

/**
 * The API's registry: HTTP traffic of this instance, plus gauges read from Redis at scrape time
 * (queue depth, outbox lag, totals of accepted/indexed/failed messages across all processes).
 */
export function createApiMetrics(deps: Deps, connections: () => number): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "memory_mesh_api_" });
  const requests = new Counter({
    name: "memory_mesh_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "memory_mesh_http_request_duration_seconds",
    help: "HTTP request latency",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: "memory_mesh_queue_jobs",
    help: "Indexing jobs by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const counts = await deps.queue.getJobCounts("waiting", "active", "delayed", "failed");
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "memory_mesh_dispatch_backlog",
    help: "Accepted messages not yet turned into indexing jobs by a worker",
    registers: [registry],
    async collect() {
      this.set(await deps.redis.llen(keys.dispatch()));
    },
  });
  new Gauge({
    name: "memory_mesh_messages_total",
    help: "Messages accepted, indexed and finally failed since the data began (all processes)",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const values = await deps.redis.hmget(keys.stats(), ...STAT_FIELDS);
      for (const [i, state] of STAT_FIELDS.entries()) this.set({ state }, Number(values[i] ?? 0));
    },
  });
  new Gauge({
    name: "memory_mesh_index_lag_seconds",
    help: "Age of the oldest accepted message not yet indexed or failed",
    registers: [registry],
    async collect() {
      const oldest = await deps.redis.zrange(keys.outbox(), "0", "0", "WITHSCORES");
      this.set(oldest.length === 2 ? Math.max(0, (Date.now() - Number(oldest[1])) / 1000) : 0);
    },
  });
  new Gauge({
    name: "memory_mesh_pending_messages",
    help: "Accepted messages not yet indexed or failed",
    registers: [registry],
    async collect() {
      this.set(await deps.redis.zcard(keys.outbox()));
    },
  });
  new Gauge({
    name: "memory_mesh_websocket_connections",
    help: "Open WebSocket connections on this instance",
    registers: [registry],
    collect() {
      this.set(connections());
    },
  });
  const children = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      // Label children are looked up once per (method, route, status): routes are templates, so few.
      const key = `${method} ${route} ${status}`;
      let child = children.get(key);
      if (!child) {
        child = { count: requests.labels(method, route, String(status)), latency: latency.labels(method, route) };
        children.set(key, child);
      }
      child.count.inc();
      child.latency.observe(seconds);
    },
  };
}

/** A worker's registry: embedder batch sizes and durations, errors. */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "memory_mesh_worker_" });
  return {
    registry,
    batchSize: new Histogram({
      name: "memory_mesh_embed_batch_size",
      help: "Texts per embedder call",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "memory_mesh_embed_batch_duration_seconds",
      help: "Duration of one embedder call",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    embedErrors: new Counter({ name: "memory_mesh_embed_errors_total", help: "Failed embedder calls", registers: [registry] }),
  };
}
