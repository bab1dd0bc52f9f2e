import { t } from "elysia";
import { TenantId } from "../http/schemas";

export const TenantSummary = t.Object(
  {
    tenant_id: t.String(),
    messages: t.Integer({ description: "Messages stored (expired ones until the sweeper removes them)" }),
    conversations: t.Integer(),
    pending: t.Integer({ description: "Accepted, not yet searchable" }),
    indexed: t.Integer({ description: "Searchable" }),
    failed: t.Integer({ description: "Indexing failed for good (see each message's `error`; POST /v1/memory/reindex retries)" }),
    retention_days: t.Union([t.Integer(), t.Null()], { description: "The tenant's retention policy (null: keep until deleted)" }),
  },
  { examples: [{ tenant_id: "my-app", messages: 1200, conversations: 40, pending: 3, indexed: 1197, failed: 0, retention_days: null }] },
);
export type TenantSummary = typeof TenantSummary.static;

export const TenantList = t.Object({
  tenants: t.Array(TenantSummary, { description: "By tenant id" }),
  next_cursor: t.Union([t.String(), t.Null()], { description: "Pass as `cursor` for the next page; null at the end" }),
});

export const TenantListQuery = t.Object({
  cursor: t.Optional(t.String({ maxLength: 1024, description: "`next_cursor` of the previous page" })),
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000, multipleOf: 1, description: "1-1000, default 100", error: "limit: expected a whole number from 1 to 1000" })),
});

export const TenantParams = t.Object({ tenant_id: TenantId });

export const PolicyInput = t.Object(
  {
    retention_days: t.Union([t.Integer({ minimum: 1, maximum: 36_500 }), t.Null()], {
      description: "Messages older than this many days (by created_at) are forgotten; null removes the policy",
    }),
  },
  { examples: [{ retention_days: 90 }] },
);

export const Policy = t.Object(
  {
    tenant_id: t.String(),
    retention_days: t.Union([t.Integer(), t.Null()]),
    updated_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
  },
  { examples: [{ tenant_id: "my-app", retention_days: 90, updated_at: "2026-11-25T12:00:00.000Z" }] },
);

export const ExportQuery = t.Object({
  include_vectors: t.Optional(t.BooleanString({ default: false, description: "Add each indexed message's vector (base64 float32, little-endian) and its model" })),
});

export const ImportReport = t.Object(
  {
    lines: t.Integer({ description: "Lines read (blank lines included)" }),
    imported: t.Integer({ description: "Messages stored" }),
    with_vectors: t.Integer({ description: "Of those, stored with their exported vector (no embedding)" }),
    unchanged: t.Integer({ description: "Messages already there with the same content (a re-run)" }),
    conversations: t.Integer({ description: "Conversation lines applied" }),
    rejected: t.Integer({ description: "Bad lines, skipped" }),
    errors: t.Array(t.Object({ line: t.Integer(), message: t.String() }), { description: "The first 100 bad lines, with why" }),
  },
  { examples: [{ lines: 1201, imported: 1200, with_vectors: 1200, unchanged: 0, conversations: 40, rejected: 1, errors: [{ line: 17, message: "tenant_id: this line is for tenant \"other\", not \"my-app\"" }] }] },
);
export type ImportReport = typeof ImportReport.static;
