/** A failure the API answers with its own status and code: `{ message, code, details? }`. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError(400, "bad_request", message, details);
export const validationFailed = (message: string, details?: unknown) =>
  new AppError(400, "validation_error", message, details);
export const unauthorized = (message = "Missing or invalid credentials (401)") =>
  new AppError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Bearer realm="memory-mesh"' });
export const forbidden = (message: string) => new AppError(403, "forbidden", message);
export const notFound = (what: string) => new AppError(404, "not_found", `${what} not found`);
/** A pagination cursor the API did not make (or made for other parameters): start again without it. */
export const invalidCursor = (why = "not a cursor this API returned") =>
  new AppError(400, "invalid_cursor", `cursor: ${why}; start again without it`, [{ field: "cursor", message: why }]);
export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, details);
export const payloadTooLarge = (limit: number) =>
  new AppError(413, "payload_too_large", `Request body is larger than ${limit} bytes`, { limit_bytes: limit });
export const headersTooLarge = (limit: number) =>
  new AppError(431, "headers_too_large", `Request headers are larger than ${limit} bytes`, { limit_bytes: limit });
export const unsupportedMediaType = (got: string) =>
  new AppError(415, "unsupported_media_type", "Send the body as application/json", { content_type: got });
export const tooManyRequests = (retryAfterS: number, message = "Rate limit exceeded (429)") =>
  new AppError(429, "rate_limited", message, { retry_after: retryAfterS }, { "Retry-After": String(retryAfterS) });
export const serviceUnavailable = (message = "Storage is unavailable; retry shortly") =>
  new AppError(503, "service_unavailable", message, undefined, { "Retry-After": "1" });

const REDIS_DOWN = /CLUSTERDOWN|TRYAGAIN|MOVED \d+|ASK \d+|ClusterAllFailedError|Failed to refresh slots cache|OOM command not allowed|Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|MaxRetriesPerRequest|LOADING|Reached the max retries|connect ETIMEDOUT|Command timed out|Socket closed/i;

/** True when an error means Redis could not be reached (answered as 503, not 500). */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === "MaxRetriesPerRequestError" || REDIS_DOWN.test(error.message);
}
