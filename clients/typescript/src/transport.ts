import { MemoryMeshError, retryAfterSeconds } from "./errors.js";
import type { Credential, Session } from "./session.js";

/** The `fetch` the client calls: the platform's by default; any function of this shape will do. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Attempts in all, the first included (default 4). 1 = never retry. */
  maxAttempts?: number;
  /** First delay after a 503 or a lost connection (calls safe to repeat), in ms (default 250); doubles each attempt, with full jitter. */
  baseDelayMs?: number;
  /** Longest such delay, in ms (default 8000). */
  maxDelayMs?: number;
  /** Longest `Retry-After` waited for on a 429, in ms (default 60000); a longer one is reported at once. */
  maxRetryAfterMs?: number;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** path with its parameters already encoded (see `segment`) */
  path: string;
  query?: Record<string, QueryValue>;
  /** sent as JSON */
  json?: unknown;
  /** a body of another kind; `make` is called once per attempt */
  body?: { make(): BodyInit; contentType: string; replayable: boolean };
  /** false for the calls that take no credential (register, login, refresh, logout) */
  auth: boolean;
  /** Safe to send again when the answer was lost (the server may have done it): reads, and writes with an idempotency key. */
  repeatable: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Per-call options every method takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** A path segment, encoded. */
export const segment = (value: string): string => encodeURIComponent(value);

/**
 * Sends requests: credentials, one renewal on a 401, retries, errors as MemoryMeshError.
 *
 * Retries: a 429 waits its `Retry-After` (the server did nothing); a 503 and a connection lost
 * before any answer wait an exponential backoff with full jitter, for calls safe to repeat (reads,
 * writes with an idempotency key: the server may have done the work); at most `maxAttempts` in all.
 * Any other 4xx is the caller's to handle and is never retried. A 401 renews the credential once
 * (refresh token, or login again) and is not counted as an attempt; a second 401 is reported.
 */
export class Transport {
  readonly baseUrl: string;
  private readonly fetcher: FetchLike;
  private readonly retry: Required<RetryOptions>;
  private readonly headers: Record<string, string>;

  constructor(
    baseUrl: string,
    readonly session: Session,
    options: { fetch?: FetchLike; retry?: RetryOptions; headers?: Record<string, string> },
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
    this.retry = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 60_000, ...options.retry };
    this.headers = options.headers ?? {};
  }

  url(path: string, query: Record<string, QueryValue> = {}): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null) search.append(name, String(value));
    const text = search.toString();
    return `${this.baseUrl}${path}${text ? `?${text}` : ""}`;
  }

  /** The answer to `call`, 2xx; anything else throws MemoryMeshError. */
  async send(call: Call): Promise<Response> {
    const url = this.url(call.path, call.query);
    let renewed = false;
    for (let attempt = 1; ; ) {
      const credential = call.auth ? await this.session.credential() : undefined;
      let response: Response;
      try {
        response = await this.fetcher(url, this.init(call, credential));
      } catch (error) {
        if (call.signal?.aborted) throw call.signal.reason ?? error;
        const failure = new MemoryMeshError({ status: 0, code: "network_error", message: `${call.method} ${call.path}: ${describe(error)}`, cause: error });
        if (!call.repeatable || !this.canRepeat(call, attempt)) throw failure;
        await sleep(this.backoff(attempt++), call.signal);
        continue;
      }
      if (response.ok) return response;
      const error = await MemoryMeshError.fromResponse(response);
      if (response.status === 401 && call.auth && !renewed) {
        renewed = true;
        // A stream body cannot be sent again: renewed for the next call, this one is reported.
        if ((await this.session.renew(credential)) && (call.body === undefined || call.body.replayable)) continue;
        throw error;
      }
      if (!this.canRepeat(call, attempt)) throw error;
      if (response.status === 429) {
        // Refused before any work: any call may wait and go again.
        const waitMs = (retryAfterSeconds(response) ?? 1) * 1000;
        if (waitMs > this.retry.maxRetryAfterMs) throw error;
        await sleep(waitMs, call.signal);
      } else if (response.status === 503 && call.repeatable) {
        // A 503 may come after the work was done (`not_replicated`: stored, not yet on a replica).
        await sleep(this.backoff(attempt), call.signal);
      } else {
        throw error;
      }
      attempt++;
    }
  }

  async json<T>(call: Call): Promise<T> {
    const response = await this.send(call);
    try {
      return (await response.json()) as T;
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason ?? error;
      const requestId = response.headers.get("x-request-id") ?? undefined;
      throw new MemoryMeshError({ status: response.status, code: "invalid_response", message: `${call.method} ${call.path}: the answer is not JSON`, requestId, cause: error });
    }
  }

  async none(call: Call): Promise<void> {
    const response = await this.send(call);
    await response.body?.cancel().catch(() => undefined);
  }

  private canRepeat(call: Call, attempt: number): boolean {
    return attempt < this.retry.maxAttempts && (call.body === undefined || call.body.replayable);
  }

  /** Full jitter: anywhere from 0 to base x 2^(attempt-1), capped. */
  private backoff(attempt: number): number {
    return Math.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
  }

  private init(call: Call, credential: Credential | undefined): RequestInit & { duplex?: "half" } {
    const headers: Record<string, string> = { ...this.headers, ...call.headers };
    if (credential?.header) headers[credential.header.name] = credential.header.value;
    let body: BodyInit | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    } else if (call.body) {
      headers["content-type"] = call.body.contentType;
      body = call.body.make();
    }
    // A stream body needs `duplex` (Node, Chrome); it is ignored for the others.
    const init: RequestInit & { duplex?: "half" } = { method: call.method, headers, body, signal: call.signal };
    if (body instanceof ReadableStream) init.duplex = "half";
    return init;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Waits `ms`; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
