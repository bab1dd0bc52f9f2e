import { AppError, isRedisUnavailable } from "../errors";
import { MalformedIdError } from "../store/keys";

export interface FieldError {
  field: string;
  message: string;
}

interface SchemaLike {
  anyOf?: SchemaLike[];
  items?: SchemaLike;
  format?: string;
  const?: unknown;
  enum?: unknown[];
  type?: string;
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  description?: string;
}

/** Patterns said in words (a raw regex helps nobody). */
const PATTERN_RULES: Record<string, string> = {
  "^(?:[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])+$": "printable text without control characters",
  "^[^\\s@\\ud800-\\udfff]+@[^\\s@\\ud800-\\udfff]+\\.[^\\s@\\ud800-\\udfff]+$": "an email address such as user@example.com",
  "^[A-Za-z0-9_.-]{3,32}$": "3 to 32 letters, digits, '_', '.' or '-'",
  "^(?=.*[A-Za-z])(?=.*[0-9])": "8 to 128 characters with at least one letter and one digit",
};

/**
 * A validation failure in words, from the schema that failed: the allowed values of an enum, the
 * range of a number, the length or rule of a string. Undefined when there is nothing better to say.
 */
function describeRule(field: string, schema: SchemaLike | undefined, raw: string): string | undefined {
  if (!schema) return undefined;
  // Elysia offers numbers and booleans also as strings to coerce (format integer/numeric/boolean): not a rule
  const coercion = (s: SchemaLike) => s.type === "string" && ["integer", "numeric", "boolean"].includes(s.format ?? "");
  let choices = schema.anyOf?.filter((s) => s.type !== "null" && !coercion(s)) ?? [schema];
  const orNull = schema.anyOf?.some((s) => s.type === "null") ? " (or null)" : "";
  const constants = (list: SchemaLike[]) => (list.length > 0 && list.every((s) => "const" in s) ? list.map((s) => s.const) : undefined);
  const values = schema.enum ?? constants(choices);
  if (values) return `${field} must be one of ${values.join(", ")}${orNull}`;
  // one of some values, or a list of them (e.g. `role` in POST search)
  const single = choices.find((s) => s.anyOf && constants(s.anyOf));
  if (single?.anyOf && choices.some((s) => s.type === "array" && s.items?.anyOf))
    return `${field} must be one of ${constants(single.anyOf)?.join(", ")}, or a list of them${orNull}`;
  // the same type offered twice (Elysia's optional integers): one rule
  if (choices.length > 1 && choices.every((s) => s.type === choices[0].type)) choices = [choices[0]];
  if (choices.length !== 1) return undefined;
  const s = choices[0];
  if (s.type === "number" || s.type === "integer") {
    const kind = s.type === "integer" || s.multipleOf === 1 ? "a whole number" : "a number";
    if (s.minimum !== undefined && s.maximum !== undefined) return `${field} must be ${kind} from ${s.minimum} to ${s.maximum}${orNull}`;
    if (s.minimum !== undefined) return `${field} must be ${kind} of at least ${s.minimum}${orNull}`;
    if (s.maximum !== undefined) return `${field} must be ${kind} of at most ${s.maximum}${orNull}`;
    return `${field} must be ${kind}${orNull}`;
  }
  if (s.type === "boolean") return `${field} must be true or false${orNull}`;
  if (s.type === "string") {
    if (/match/i.test(raw) && s.pattern) return `${field} must be ${PATTERN_RULES[s.pattern] ?? s.description ?? "in the documented format"}`;
    if (/length/i.test(raw)) {
      if (s.minLength !== undefined && s.maxLength !== undefined) return `${field} must be ${s.minLength} to ${s.maxLength} characters`;
      if (s.maxLength !== undefined) return `${field} must be at most ${s.maxLength} characters`;
      if (s.minLength !== undefined) return `${field} must be at least ${s.minLength} characters`;
    }
    if (/union|should be one of|expected string/i.test(raw)) return `${field} must be a string${orNull}`;
  }
  return undefined;
}

/** Turns Elysia/TypeBox validation errors into `[{ field: "messages.3.content", message }]`, one per field, in words. */
export function fieldErrors(error: unknown): FieldError[] {
  // Elysia checks a coerced query number on its own and loses its path; `QueryNumber` puts the
  // field name in the schema's custom error ("top_k: ...") for exactly this case.
  const custom = (error as { customError?: unknown }).customError;
  const named = typeof custom === "string" ? /^([\w.]+): (.+)$/.exec(custom) : null;
  if (named && (error as { type?: string }).type === "property") return [{ field: named[1], message: named[2] }];
  const all = (error as { all?: { path?: string; message?: string; summary?: string; schema?: SchemaLike }[] }).all ?? [];
  const seen = new Map<string, string>();
  for (const item of all) {
    const field = (item.path ?? "").replace(/^\//, "").replaceAll("/", ".") || "(body)";
    if (seen.has(field)) continue;
    const raw = item.summary ?? item.message ?? "is invalid";
    seen.set(field, describeRule(field, item.schema, raw) ?? raw);
  }
  return [...seen].map(([field, message]) => ({ field, message }));
}

export function jsonError(
  status: number,
  code: string,
  message: string,
  requestId: string,
  details?: unknown,
  headers: Record<string, string> = {},
): Response {
  const body: Record<string, unknown> = { message, code };
  if (details !== undefined) body.details = details;
  body.request_id = requestId;
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "x-request-id": requestId, ...headers },
  });
}

/** Maps any failure to the one error body. Unknown errors become a bare 500 (the stack is only logged). */
export function errorToResponse(
  code: string | number,
  error: unknown,
  requestId: string,
  redisReady: boolean,
): { response: Response; unexpected: boolean } {
  // Elysia wraps what a parse hook throws in a ParseError; our own parser throws AppErrors.
  const cause = (error as { cause?: unknown })?.cause;
  if (code === "PARSE" && cause instanceof AppError) error = cause;
  if (error instanceof AppError) {
    return { response: jsonError(error.status, error.code, error.message, requestId, error.details, error.headers), unexpected: false };
  }
  if (error instanceof MalformedIdError) return { response: jsonError(400, "bad_request", error.message, requestId), unexpected: false };
  switch (code) {
    case "VALIDATION": {
      const details = fieldErrors(error);
      const what = details.map((d) => d.field).join(", ");
      return { response: jsonError(400, "validation_error", `Invalid request: ${what}`, requestId, details), unexpected: false };
    }
    case "PARSE":
      return { response: jsonError(400, "malformed_json", "The request body is not valid JSON", requestId), unexpected: false };
    case "NOT_FOUND":
      return { response: jsonError(404, "not_found", "No such route", requestId), unexpected: false };
    case "INVALID_COOKIE_SIGNATURE":
      return { response: jsonError(400, "bad_request", "Invalid cookie", requestId), unexpected: false };
  }
  if (isRedisUnavailable(error) || !redisReady) {
    return {
      response: jsonError(503, "service_unavailable", "Storage is unavailable; retry shortly", requestId, undefined, { "Retry-After": "1" }),
      unexpected: false,
    };
  }
  // A library's error with a 4xx status keeps its status, but only our own errors' words reach the
  // client: a foreign message may carry internals (paths, query text, other users' data).
  const status = typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : 500;
  if (status >= 400 && status < 500) {
    return { response: jsonError(status, "bad_request", `The request was refused (${status})`, requestId), unexpected: false };
  }
  return { response: jsonError(500, "internal_error", "Internal server error", requestId), unexpected: true };
}
