import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Deps } from "./deps";
import type { Logger } from "./log";
import { allShards, keys } from "./store/keys";

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Prometheus text of a registry. */
export async function metricsResponse(metrics: { registry: Registry }): Promise<Response> {
  return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
}

/** A process's own health, as its `/health` answers it: 200 when `status` is "ok", 503 otherwise. */
export interface ProcessHealth {
  status: "ok" | "unavailable";
}

/**
 * Serves `GET /metrics` on a listener of its own (for a private network), as the API and workers
 * do, and `GET /health` when `health` is given (workers: their container healthcheck). A busy port
 * is logged and leaves the listener off rather than stopping the process.
 */
export function serveMetrics(
  metrics: { registry: Registry },
  hostname: string,
  port: number,
  log: Logger,
  health?: () => Promise<ProcessHealth>,
): ReturnType<typeof Bun.serve> | undefined {
  if (!port) return undefined;
  try {
    return Bun.serve({
      hostname,
      port,
      fetch: async (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") return metricsResponse(metrics);
        if (path === "/health" && health) {
          const state = await health();
          return Response.json(state, { status: state.status === "ok" ? 200 : 503 });
        }
        return new Response("not found", { status: 404 });
      },
    });
  } catch (error) {
    log.warn({ port, err: (error as Error).message }, "metrics port busy; metrics listener off");
    return undefined;
  }
}

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
  webhookAttempts: Counter;
  webhookSeconds: Histogram;
  webhooksDisabled: Counter;
}

/**
 * The API's registry: HTTP traffic of this instance, plus gauges read from Redis at scrape time
 * (queue depth, outbox lag, totals of accepted/indexed/failed messages across all processes).
 */
export function createApiMetrics(deps: Deps, connections: () => number): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "memory_mesh_api_" });
  const http = new HttpMetrics();
  registry.registerMetric(http.requests as never);
  registry.registerMetric(http.latency as never);
  new Gauge({
    name: "memory_mesh_queue_jobs",
    help: "Indexing jobs by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const perShard = await Promise.all(deps.queues.map((q) => q.getJobCounts("waiting", "active", "delayed", "failed")));
      for (const state of ["waiting", "active", "delayed", "failed"]) this.set({ state }, perShard.reduce((n, c) => n + (c[state] ?? 0), 0));
    },
  });
  new Gauge({
    name: "memory_mesh_dispatch_backlog",
    help: "Accepted messages not yet turned into indexing jobs by a worker",
    registers: [registry],
    async collect() {
      this.set(sum(await Promise.all(allShards().map((k) => deps.redis.llen(keys.dispatch(k))))));
    },
  });
  new Gauge({
    name: "memory_mesh_messages_total",
    help: "Messages accepted, indexed and finally failed since the data began (all processes)",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const perShard = await Promise.all(allShards().map((k) => deps.redis.hmget(keys.stats(k), ...STAT_FIELDS)));
      for (const [i, state] of STAT_FIELDS.entries()) this.set({ state }, sum(perShard.map((values) => Number(values[i] ?? 0))));
    },
  });
  new Gauge({
    name: "memory_mesh_index_lag_seconds",
    help: "Age of the oldest accepted message not yet indexed or failed",
    registers: [registry],
    async collect() {
      const heads = await Promise.all(allShards().map((k) => deps.redis.zrange(keys.outbox(k), "0", "0", "WITHSCORES")));
      const oldest = Math.min(...heads.filter((h) => h.length === 2).map((h) => Number(h[1])));
      this.set(Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
    },
  });
  new Gauge({
    name: "memory_mesh_pending_messages",
    help: "Accepted messages not yet indexed or failed",
    registers: [registry],
    async collect() {
      this.set(sum(await Promise.all(allShards().map((k) => deps.redis.zcard(keys.outbox(k))))));
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
  return { registry, observeRequest: (method, route, status, seconds) => http.observe(method, route, status, seconds) };
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The HTTP request counter and latency histogram, counted in plain arrays per (method, route,
 * status) and turned into Prometheus values at scrape time. prom-client's own Counter and
 * Histogram hash a label object on every observation, a few microseconds per request on the
 * ingest path. Routes are templates (`/v1/messages/:id`), so the series stay few.
 */
class HttpMetrics {
  private readonly series = new Map<string, { method: string; route: string; status: string; count: number; buckets: number[]; sum: number }>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let s = this.series.get(key);
    if (!s) {
      s = { method, route, status: String(status), count: 0, buckets: LATENCY_BUCKETS.map(() => 0), sum: 0 };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    const at = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (at >= 0) s.buckets[at]++;
  }

  readonly requests = {
    name: "memory_mesh_http_requests_total",
    get: async () => ({
      name: "memory_mesh_http_requests_total",
      help: "HTTP requests by route and status",
      type: "counter",
      aggregator: "sum",
      values: [...this.series.values()].map((s) => ({ labels: { method: s.method, route: s.route, status: s.status }, value: s.count })),
    }),
  };

  /** Latency by method and route (all statuses together), cumulative buckets as Prometheus wants them. */
  readonly latency = {
    name: "memory_mesh_http_request_duration_seconds",
    get: async () => {
      const byRoute = new Map<string, { method: string; route: string; count: number; buckets: number[]; sum: number }>();
      for (const s of this.series.values()) {
        const key = `${s.method} ${s.route}`;
        const r = byRoute.get(key) ?? { method: s.method, route: s.route, count: 0, buckets: LATENCY_BUCKETS.map(() => 0), sum: 0 };
        r.count += s.count;
        r.sum += s.sum;
        s.buckets.forEach((n, i) => {
          r.buckets[i] += n;
        });
        byRoute.set(key, r);
      }
      const name = "memory_mesh_http_request_duration_seconds";
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const { method, route, count, buckets, sum } of byRoute.values()) {
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += buckets[i];
          values.push({ metricName: `${name}_bucket`, labels: { method, route, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { method, route, le: "+Inf" }, value: count });
        values.push({ metricName: `${name}_sum`, labels: { method, route }, value: sum });
        values.push({ metricName: `${name}_count`, labels: { method, route }, value: count });
      }
      return { name, help: "HTTP request latency", type: "histogram", aggregator: "sum", values };
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
    webhookAttempts: new Counter({
      name: "memory_mesh_webhook_attempts_total",
      help: "Webhook delivery attempts by outcome: succeeded, retrying (failed, will retry), failed (for good)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    webhookSeconds: new Histogram({
      name: "memory_mesh_webhook_attempt_duration_seconds",
      help: "Duration of one webhook delivery attempt (until the receiver's answer or the timeout)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [registry],
    }),
    webhooksDisabled: new Counter({ name: "memory_mesh_webhooks_disabled_total", help: "Webhook endpoints disabled by the server (410, failures)", registers: [registry] }),
  };
}

/** Gauges read at scrape time from a worker's deps: webhook deliveries waiting, per state. */
export function addWebhookQueueGauge(metrics: WorkerMetrics, deps: Pick<Deps, "webhookQueues">): void {
  new Gauge({
    name: "memory_mesh_webhook_queue_jobs",
    help: "Webhook deliveries in the queues (all shards) by state",
    labelNames: ["state"],
    registers: [metrics.registry],
    async collect() {
      const counts = await Promise.all(deps.webhookQueues.map((q) => q.getJobCounts("waiting", "delayed", "active", "prioritized")));
      for (const state of ["waiting", "delayed", "active"]) this.set({ state }, counts.reduce((n, c) => n + (c[state] ?? 0) + (state === "waiting" ? (c.prioritized ?? 0) : 0), 0));
    },
  });
}
