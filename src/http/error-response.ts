import { AppError, isRedisUnavailable } from "../errors";

export interface FieldError {
  field: string;
  message: string;
}

/** Turns Elysia/TypeBox validation errors into `[{ field: "messages.3.content", message }]`, one per field. */
export function fieldErrors(error: unknown): FieldError[] {
  // Elysia checks a coerced query number on its own and loses its path; `QueryNumber` puts the
  // field name in the schema's custom error ("top_k: ...") for exactly this case.
  const custom = (error as { customError?: unknown }).customError;
  const named = typeof custom === "string" ? /^([\w.]+): (.+)$/.exec(custom) : null;
  if (named && (error as { type?: string }).type === "property") return [{ field: named[1], message: named[2] }];
  const all = (error as { all?: { path?: string; message?: string; summary?: string }[] }).all ?? [];
  const seen = new Map<string, string>();
  for (const item of all) {
    const field = (item.path ?? "").replace(/^\//, "").replaceAll("/", ".") || "(body)";
    if (!seen.has(field)) seen.set(field, item.summary ?? item.message ?? "is invalid");
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
  const status = typeof (error as { status?: unknown })?.status === "number" ? (error as { status: number }).status : 500;
  if (status >= 400 && status < 500) {
    return { response: jsonError(status, "bad_request", (error as Error).message || "Bad request", requestId), unexpected: false };
  }
  return { response: jsonError(500, "internal_error", "Internal server error", requestId), unexpected: true };
}
