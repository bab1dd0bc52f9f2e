import { Elysia } from "elysia";
import { assertTenant, chargeRate, messagesCost, requireAuth } from "../auth/credentials";
import type { Deps } from "../deps";
import { errors, security } from "../http/schemas";
import { DataJob } from "../jobs/model";
import { startDataJob } from "../jobs/service";
import { keys } from "../store/keys";
import { exportTenant } from "./export";
import { importTenant } from "./import";
import { ExportQuery, ImportReport, Policy, PolicyInput, TenantList, TenantListQuery, TenantParams, TenantSummary } from "./model";
import { getPolicy, getTenant, listTenants, setPolicy } from "./service";

const DEFAULT_PAGE = 100;

export function tenantRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/tenants", tags: ["Tenants"] })
    .derive(requireAuth(deps))
    .get("", ({ principal, query }) => listTenants(deps, principal, query.limit ?? DEFAULT_PAGE, query.cursor), {
      query: TenantListQuery,
      response: { 200: TenantList, ...errors(400, 401, 429) },
      detail: {
        operationId: "listTenants",
        summary: "Your tenants with their message and conversation counts, and messages by status",
        description: "When `pending` is 0, everything sent to a tenant is searchable (or `failed`). An API key sees the tenants it may use.",
        security,
      },
    })
    .get("/:tenant_id", ({ principal, params }) => getTenant(deps, principal, params.tenant_id), {
      params: TenantParams,
      response: { 200: TenantSummary, ...errors(400, 401, 403, 429) },
      detail: {
        operationId: "getTenant",
        summary: "One tenant's counts",
        description: "Messages, conversations and messages by status; zeros for a tenant with nothing stored.",
        security,
      },
    })
    .delete(
      "/:tenant_id",
      async ({ principal, params, set }) => {
        set.status = 202;
        return startDataJob(deps, principal, "erase_tenant", params.tenant_id);
      },
      {
        params: TenantParams,
        response: { 202: DataJob, ...errors(400, 401, 403, 429, 503) },
        detail: {
          operationId: "eraseTenant",
          summary: "Erase a tenant: every message, conversation, vector and policy of it (a job)",
          description:
            "Answers 202 with a job; `GET /v1/jobs/{id}` shows its progress. Idempotent: erasing again (or a tenant with nothing) completes with nothing to delete. Subscribers get `message.deleted` with reason `tenant_erased`. Messages stored while it runs may survive it: stop writing to the tenant first.",
          security,
        },
      },
    )
    .get("/:tenant_id/policy", ({ principal, params }) => getPolicy(deps, principal, params.tenant_id), {
      params: TenantParams,
      response: { 200: Policy, ...errors(400, 401, 403, 429) },
      detail: {
        operationId: "getTenantPolicy",
        summary: "A tenant's retention policy",
        description: "`retention_days` null: messages are kept until deleted (or their own expiry).",
        security,
      },
    })
    .put("/:tenant_id/policy", ({ principal, params, body }) => setPolicy(deps, principal, params.tenant_id, body.retention_days), {
      params: TenantParams,
      body: PolicyInput,
      response: { 200: Policy, ...errors(400, 401, 403, 413, 415, 429) },
      detail: {
        operationId: "setTenantPolicy",
        summary: "Set a tenant's retention: messages older than `retention_days` are forgotten",
        description:
          "Takes effect at once for search, lists and history (older messages are hidden); workers then delete them with their vectors and send `message.deleted` with reason `retention`. `null` removes the policy.",
        security,
      },
    })
    .get(
      "/:tenant_id/export",
      async ({ principal, params, query, set }) => {
        assertTenant(principal, params.tenant_id, "read");
        // As much as storing them in batches would, at most one window's budget: a large tenant can always be exported.
        const stored = await deps.redis.zcard(keys.tenantMessages(principal.account, params.tenant_id));
        const cost = Math.min(messagesCost(deps.config, stored), deps.config.RATE_LIMIT_REQUESTS - 1);
        if (cost > 0) Object.assign(set.headers, await chargeRate(deps, principal, cost));
        const name = encodeURIComponent(params.tenant_id);
        return new Response(exportTenant(deps, principal.account, params.tenant_id, query.include_vectors ?? false), {
          headers: {
            ...(set.headers as Record<string, string>),
            "content-type": "application/x-ndjson; charset=utf-8",
            "content-disposition": `attachment; filename="memory-mesh-${name}.ndjson"; filename*=UTF-8''memory-mesh-${name}.ndjson`,
          },
        });
      },
      {
        params: TenantParams,
        query: ExportQuery,
        response: { ...errors(400, 401, 403, 429) },
        detail: {
          operationId: "exportTenant",
          summary: "Export a tenant as NDJSON, streamed (import takes the same format)",
          description:
            "One JSON object per line: first `{\"type\":\"conversation\", ...}` lines (title, metadata, times), then `{\"type\":\"message\", ...}` lines, oldest first, each as `GET /v1/messages/{id}` shows it. `include_vectors=true` adds `vector` (base64 of the FLOAT32 values, little-endian) and `vector_model` to indexed messages. Expired messages are left out. Costs 1 request plus 1 per RATE_LIMIT_BATCH_UNIT messages, at most one window's budget.",
          security,
          responses: {
            200: { description: "NDJSON, streamed", content: { "application/x-ndjson": { schema: { type: "string" } } } },
          },
        },
      },
    )
    .post(
      "/:tenant_id/import",
      async ({ principal, params, request }) => {
        assertTenant(principal, params.tenant_id, "write");
        return importTenant(deps, principal, params.tenant_id, request);
      },
      {
        params: TenantParams,
        response: { 200: ImportReport, ...errors(400, 401, 403, 413, 415, 429, 503) },
        detail: {
          operationId: "importTenant",
          summary: "Import NDJSON as exported, streamed (gzip allowed); idempotent by message id",
          description: [
            "Send the export's lines (`Content-Type: application/x-ndjson`, optionally `Content-Encoding: gzip`); MAX_IMPORT_BYTES caps the body after decompression (413).",
            "Ids and `created_at` are kept; a message id already stored with the same content is left as it is, so re-running an import changes nothing.",
            "Vectors whose `vector_model` is the server's are stored as they are (no embedding); other messages are `pending` and embedded by the workers.",
            "`tenant_id` on a line, if given, must be this tenant. Bad lines are skipped and reported with their line number; the answer says how many lines were read and what became of them.",
            "Costs 1 request plus 1 per RATE_LIMIT_BATCH_UNIT new messages; past the limit the import stops with a 429 whose `details` say how far it got: re-run it after `Retry-After`.",
            "Imports send no `message.created` events (indexing still sends `message.indexed`).",
          ].join(" "),
          security,
          requestBody: {
            required: true,
            content: {
              "application/x-ndjson": {
                schema: { type: "string", description: "One JSON object per line, as exported" },
                example: '{"type":"message","id":"m1","conversation_id":"c1","role":"user","content":"hello","created_at":"2026-11-20T18:04:00Z"}\n',
              },
            },
          },
        },
      },
    );
}
