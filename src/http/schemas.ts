import { type TSchema, t } from "elysia";
import { validationFailed } from "../errors";
import type { FieldError } from "./error-response";

/**
 * Tenant, conversation and message ids: 1-128 characters, anything printable. Control characters
 * are refused (they are the vector index's tag separator); everything else, `:` `@` `.` `-`
 * spaces and unicode included, is stored and matched exactly.
 */
/** Printable, well-formed text: no control characters, no lone UTF-16 surrogates. */
export const WELL_FORMED = "^(?:[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])+$";

export const Id = (description: string, example: string) =>
  t.String({ minLength: 1, maxLength: 128, pattern: WELL_FORMED, description, examples: [example] });

export const TenantId = Id("Namespace inside your account (e.g. one per app or end user)", "my-app");
export const ConversationId = Id("Conversation id, chosen by you", "user-123");
export const MessageId = Id("Message id", "0192f3c4-5b6a-7c8d-9e0f-a1b2c3d4e5f6");

/** Optional and nullable: the guide's clients send `null` for "not given". */
export const Maybe = <T extends TSchema>(schema: T) => t.Optional(t.Union([schema, t.Null()]));

export const ErrorBody = t.Object(
  {
    message: t.String(),
    code: t.String(),
    details: t.Optional(t.Unknown()),
    request_id: t.Optional(t.String()),
  },
  { examples: [{ message: "Invalid request: content", code: "validation_error", details: [{ field: "content", message: "content must be 1 to 1000000 characters" }] }] },
);

/** What each status means in this API, for the OpenAPI document's response descriptions. */
export const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted: durably stored and queued; indexing happens in the background",
  204: "Done; no content",
  400: "Invalid request (`validation_error` names each field in `details`, `malformed_json`)",
  401: "Missing, invalid or expired credentials",
  403: "The credential may not do this (scope, tenant, or an API key where a user's token is needed)",
  404: "Not found (or not visible to this credential)",
  409: "Conflict with what is stored (`code` says which)",
  413: "Body larger than MAX_BODY_BYTES",
  415: "Body is not JSON",
  429: "Rate limited; retry after `Retry-After` seconds",
  503: "Redis (storage or queue) is unreachable; retry shortly",
};

/** Standard error responses, for the OpenAPI document. */
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ErrorBody]));

/**
 * OpenAPI responses of a route answered 204 without a body, and its error statuses. Such routes
 * have no `response` schema to validate (there is no body), so they are declared in `detail`.
 */
export const noContent = (...statuses: number[]) => ({
  204: { description: STATUS_TEXT[204] },
  ...Object.fromEntries(statuses.map((s) => [s, { description: STATUS_TEXT[s], content: { "application/json": { schema: ErrorBody } } }])),
});

/**
 * A `transform` hook for bodies with `metadata` (top level, or in each of `messages`): Elysia's
 * normaliser turns a string, number, boolean or array given where an object is expected into an
 * object ("str" becomes {"0":"s","1":"t","2":"r"}) before validation runs, so such metadata is
 * refused here first, as a 400 naming the field.
 */
export function refuseNonObjectMetadata({ body }: { body: unknown }): void {
  const problems: FieldError[] = [];
  const check = (value: unknown, field: string) => {
    if (value === undefined || value === null) return;
    if (typeof value !== "object" || Array.isArray(value)) problems.push({ field, message: "Expected a JSON object (or null)" });
  };
  if (typeof body !== "object" || body === null) return;
  const { metadata, messages } = body as { metadata?: unknown; messages?: unknown };
  check(metadata, "metadata");
  if (Array.isArray(messages)) for (const [i, m] of messages.entries()) check((m as { metadata?: unknown } | null)?.metadata, `messages.${i}.metadata`);
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
}

export const Metadata = t.Record(t.String(), t.Unknown(), { description: "Any JSON object", examples: [{ source: "web" }] });

/** Turns `null` into `undefined` so services see one "not given". */
export const given = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);

/** OpenAPI security of routes that take either credential. */
export const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKey: [] }];

/** A number in the query string, with a range error that names the field. */
export const QueryNumber = (field: string, minimum: number, maximum: number, options: { default?: number; description?: string; integer?: boolean } = {}) =>
  t.Optional(
    t.Numeric({
      minimum,
      maximum,
      ...(options.integer ? { multipleOf: 1 } : {}),
      default: options.default,
      description: options.description,
      error: `${field}: expected a ${options.integer ? "whole number" : "number"} from ${minimum} to ${maximum}`,
    }),
  );
