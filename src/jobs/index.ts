import { Elysia, t } from "elysia";
import { requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, security } from "../http/schemas";
import { DataJob } from "./model";
import { getDataJob } from "./service";

export function jobRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/jobs", tags: ["Jobs"] })
    .derive(requireAuth(deps))
    .get("/:id", ({ principal, params }) => getDataJob(deps, principal, params.id), {
      params: t.Object({ id: t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$", description: "The job's id" }) }),
      response: { 200: DataJob, ...errors(400, 401, 403, 404, 429) },
      detail: {
        operationId: "getJob",
        summary: "A data job (delete by filter, tenant erase): status and how many messages it deleted",
        description: "`status` goes queued, running, then completed (or failed, with `error`). Jobs are kept 7 days after they finish.",
        security,
      },
    });
}
