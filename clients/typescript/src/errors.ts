import type { ErrorBody } from "./types.js";

/** Codes the client itself gives to failures that have no HTTP answer of their own (status 0). */
export type ClientErrorCode =
  | "network_error"
  | "timeout"
  | "no_credentials"
  | "invalid_response"
  | "indexing_failed"
  | "job_failed"
  | "api_key_revoked"
  | "account_deleted"
  | "stream_failed";

export interface MemoryMeshErrorInit {
  /** HTTP status of the answer; 0 when the failure is the client's own (no answer, a timeout, a failed message). */
  status: number;
  /** The server's error `code` (`validation_error`, `rate_limited`, ...), or a {@link ClientErrorCode}. */
  code: string;
  message: string;
  /** The server's `details` (e.g. `[{ field, message }]` for validation errors), or what the client knows. */
  details?: unknown;
  /** The request's id (`request_id` of the body, else the `X-Request-Id` header): quote it when reporting a problem. */
  requestId?: string;
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  retryAfter?: number;
  cause?: unknown;
}

/**
 * Every failure the client reports: the server's JSON error body (`{ message, code, details?,
 * request_id }`) with the HTTP status, or one of the client's own (status 0, see ClientErrorCode).
 */
export class MemoryMeshError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(init: MemoryMeshErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "MemoryMeshError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }

  /** The error a non-2xx answer stands for; a body that is not the server's JSON error keeps its status. */
  static async fromResponse(response: Response): Promise<MemoryMeshError> {
    const text = await response.text().catch(() => "");
    let body: Partial<ErrorBody> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") body = parsed as Partial<ErrorBody>;
    } catch {
      // not JSON (a proxy's page, an empty body): described by the status alone
    }
    return new MemoryMeshError({
      status: response.status,
      code: typeof body.code === "string" ? body.code : `http_${response.status}`,
      message: typeof body.message === "string" ? body.message : `HTTP ${response.status} ${response.statusText}`.trim(),
      details: body.details,
      requestId: (typeof body.request_id === "string" ? body.request_id : undefined) ?? response.headers.get("x-request-id") ?? undefined,
      retryAfter: retryAfterSeconds(response),
    });
  }
}

/** `Retry-After` in seconds (a number of seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
