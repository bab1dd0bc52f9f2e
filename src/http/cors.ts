/**
 * CORS for browser clients, at no cost to the others: only a request with an `Origin` header
 * gets CORS headers, and only an allowed origin gets `Access-Control-Allow-Origin`. Credentials
 * travel in headers (Bearer, x-api-key), never cookies, so no `Allow-Credentials`.
 */
const EXPOSED = "X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After";
const ALLOWED_HEADERS = "Content-Type, Authorization, x-api-key, Idempotency-Key, X-Request-Id";
const ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const MAX_AGE_S = "600";

export interface Cors {
  /** Adds the CORS headers a request from a browser needs to `headers`. */
  apply(request: Request, headers: Record<string, string | number>): void;
  /** The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`), or undefined for any other request. */
  preflight(request: Request, headers: Record<string, string | number>): Response | undefined;
}

/** `origins`: the CORS_ORIGINS setting, comma-separated origins or `*`. */
export function createCors(origins: string): Cors {
  const list = origins.split(",").map((o) => o.trim()).filter(Boolean);
  const any = list.includes("*");
  const allowed = new Set(list);

  const allowOrigin = (request: Request, headers: Record<string, string | number>): boolean => {
    const origin = request.headers.get("origin");
    if (!origin) return false;
    headers.vary = "Origin";
    if (!any && !allowed.has(origin)) return false;
    headers["access-control-allow-origin"] = origin;
    return true;
  };

  return {
    apply(request, headers) {
      if (allowOrigin(request, headers)) headers["access-control-expose-headers"] = EXPOSED;
    },
    preflight(request, headers) {
      if (request.method !== "OPTIONS" || !request.headers.get("access-control-request-method")) return undefined;
      if (allowOrigin(request, headers)) {
        headers["access-control-allow-methods"] = ALLOWED_METHODS;
        headers["access-control-allow-headers"] = ALLOWED_HEADERS;
        headers["access-control-max-age"] = MAX_AGE_S;
      }
      return new Response(null, { status: 204, headers: headers as Record<string, string> });
    },
  };
}
