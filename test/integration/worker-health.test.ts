import { describe, expect, test } from "bun:test";
import { startIndexingWorker, workerHealth } from "../../src/memory/worker";
import { addWebhookQueueGauge, createWorkerMetrics, serveMetrics } from "../../src/metrics";
import { closeRedis, createRedis } from "../../src/store/redis";
import { freePort } from "../../src/store/redis-server";
import { useHarness } from "../helpers/app";

const h = useHarness();

/** A metrics listener on a free port, as workers/indexer.ts starts it; stopped by `h.cleanup`. */
async function listener(health?: Parameters<typeof serveMetrics>[4]): Promise<string> {
  const metrics = createWorkerMetrics();
  addWebhookQueueGauge(metrics, h.deps);
  const server = serveMetrics(metrics, "127.0.0.1", await freePort(), h.deps.log, health);
  if (!server) throw new Error("metrics listener did not start");
  h.cleanup(() => server.stop(true));
  return `http://127.0.0.1:${server.port}`;
}

async function get(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, body: response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
}

describe("worker /health (its compose healthcheck)", () => {
  test("200 while the BullMQ worker runs and Redis answers, 503 once it is closed; /metrics stays", async () => {
    const indexing = startIndexingWorker(h.deps);
    const base = await listener(indexing.health);
    expect(await get(`${base}/health`)).toEqual({ status: 200, body: { status: "ok", worker: true, redis: true } });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    for (const name of ["memory_mesh_embed_batch_size", "memory_mesh_webhook_attempts_total", "memory_mesh_webhook_attempt_duration_seconds", "memory_mesh_webhooks_disabled_total"]) expect(text).toContain(`# TYPE ${name}`);
    expect(text).toContain('memory_mesh_webhook_queue_jobs{state="waiting"} 0');
    await indexing.close();
    expect(await get(`${base}/health`)).toEqual({ status: 503, body: { status: "unavailable", worker: false, redis: true } });
  });

  test("unavailable when Redis does not answer, though the worker runs", async () => {
    const indexing = startIndexingWorker(h.deps);
    const unreachable = createRedis(`redis://127.0.0.1:${await freePort()}`, "request");
    try {
      expect(await workerHealth(indexing.workers, unreachable)).toEqual({ status: "unavailable", worker: true, redis: false });
    } finally {
      await closeRedis(unreachable);
      await indexing.close();
    }
  });

  test("a listener without a health check (the API's) has no /health", async () => {
    const base = await listener();
    expect(await get(`${base}/health`)).toEqual({ status: 404, body: "not found" });
  });
});
