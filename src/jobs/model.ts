import { t } from "elysia";
import { ConversationId, TenantId } from "../http/schemas";

const Scalar = t.Union([t.String({ maxLength: 256 }), t.Number(), t.Boolean()]);
const Timestamp = (what: string) => t.String({ maxLength: 40, description: `ISO-8601 date-time; ${what}`, examples: ["2026-11-01T00:00:00Z"] });

export const DeleteFilter = t.Object(
  {
    tenant_id: TenantId,
    conversation_id: t.Optional(ConversationId),
    created_after: t.Optional(Timestamp("messages created at or after it")),
    created_before: t.Optional(Timestamp("messages created before it")),
    metadata: t.Optional(
      t.Record(t.String({ maxLength: 256 }), Scalar, { maxProperties: 32, description: "Top-level metadata values that must all be equal", examples: [{ source: "import" }] }),
    ),
  },
  { examples: [{ tenant_id: "my-app", created_before: "2026-01-01T00:00:00Z", metadata: { source: "import" } }] },
);
export type DeleteFilter = typeof DeleteFilter.static;

export const JobKind = t.UnionEnum(["delete", "erase_tenant"], { description: "`delete`: messages matching a filter; `erase_tenant`: everything of a tenant" });
export const JobStatus = t.UnionEnum(["queued", "running", "completed", "failed"]);

export const DataJob = t.Object(
  {
    id: t.String(),
    kind: JobKind,
    tenant_id: t.String(),
    filter: t.Union([DeleteFilter, t.Null()], { description: "What a `delete` job removes" }),
    status: JobStatus,
    deleted: t.Integer({ description: "Messages deleted so far" }),
    created_at: t.String({ format: "date-time" }),
    started_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
    finished_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
    error: t.Union([t.String(), t.Null()]),
  },
  {
    examples: [
      { id: "dj-0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6", kind: "delete", tenant_id: "my-app", filter: { tenant_id: "my-app", created_before: "2026-01-01T00:00:00Z" }, status: "running", deleted: 1200, created_at: "2026-11-25T12:00:00.000Z", started_at: "2026-11-25T12:00:00.050Z", finished_at: null, error: null },
    ],
  },
);
export type DataJob = typeof DataJob.static;
