import { Elysia, t } from "elysia";
import type { Deps } from "../deps";
import { answersPing } from "../store/redis";

const Health = t.Object({ status: t.Literal("ok") }, { examples: [{ status: "ok" }] });
const Ready = t.Object(
  {
    status: t.Union([t.Literal("ready"), t.Literal("unavailable")]),
    redis: t.Boolean(),
    queue: t.Boolean(),
    vector_engine: t.String({ description: "`query-engine` (HNSW) or `exact` (fallback scan)" }),
    vector_index: t.String(),
    embedding_model: t.String(),
  },
  {
    examples: [
      { status: "ready", redis: true, queue: true, vector_engine: "exact", vector_index: "exact:local-use-lite-512", embedding_model: "local-use-lite-512" },
    ],
  },
);

async function readiness(deps: Deps) {
  const redis = await answersPing(deps.redis);
  const queue = redis && (await deps.queue.getWaitingCount().then(() => true, () => false));
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
      detail: { summary: "Process is alive" },
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
        detail: { summary: "Redis and the queue are reachable; which vector engine is active" },
      },
    );
}

