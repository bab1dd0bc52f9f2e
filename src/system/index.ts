import { Elysia } from "elysia";
import type { Deps } from "../deps";
import { answersPing } from "../store/redis";
import { Health, Ready } from "./model";

async function readiness(deps: Deps) {
  const redis = await answersPing(deps.redis);
  const queue = redis && (await Promise.all(deps.queues.map((q) => q.getWaitingCount())).then(() => true, () => false));
  return {
    status: redis && queue ? ("ready" as const) : ("unavailable" as const),
    redis,
    queue,
    vector_engine: deps.vectors.engine,
    vector_index: deps.vectors.name,
    embedding_model: deps.embedder.modelKey,
  };
}

/** Liveness and readiness for load balancers and compose healthchecks. */
export function systemRoutes(deps: Deps) {
  return new Elysia({ tags: ["System"] })
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: Health },
      detail: { operationId: "getHealth", summary: "Process is alive", description: "Liveness: answers while the process runs; checks nothing else.", security: [] },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const state = await readiness(deps);
        if (state.status !== "ready") set.status = 503;
        return state;
      },
      {
        response: { 200: Ready, 503: Ready },
        detail: {
          operationId: "getReadiness",
          summary: "Redis and the queue are reachable; which vector engine is active",
          description: "200 when Redis and the job queue answer; 503 with the same body when either does not.",
          security: [],
        },
      },
    );
}

