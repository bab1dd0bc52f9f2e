import { type FetchLike, MemoryMeshError } from "../src/index";

/** What a recording fetch saw of one request: `status` is the answer's, or `lost` when the wrapper threw it away. */
export interface Seen {
  method: string;
  path: string;
  status: number | "lost";
  idempotencyKey: string | null;
  authorization: string | null;
  /** the answer's Retry-After header */
  retryAfter: string | null;
  /** when the answer came (ms since the epoch) */
  at: number;
}

/**
 * A fetch that calls the real one and records every request. `lose(request)` returning true makes it
 * throw the answer away after the server has handled the request (a connection lost on the way back).
 */
export function recordingFetch(lose: (seen: Omit<Seen, "status" | "at" | "retryAfter">, index: number) => boolean = () => false) {
  const seen: Seen[] = [];
  const fetch: FetchLike = async (url, init) => {
    const headers = new Headers(init.headers);
    const request = {
      method: init.method ?? "GET",
      path: new URL(url).pathname,
      idempotencyKey: headers.get("idempotency-key"),
      authorization: headers.get("authorization"),
    };
    const response = await globalThis.fetch(url, init);
    if (lose(request, seen.length)) {
      await response.body?.cancel();
      seen.push({ ...request, status: "lost", retryAfter: null, at: Date.now() });
      throw new TypeError("fetch failed: connection reset (dropped by the test)");
    }
    seen.push({ ...request, status: response.status, retryAfter: response.headers.get("retry-after"), at: Date.now() });
    return response;
  };
  /** `METHOD /path STATUS` of each request, in order */
  const lines = () => seen.map((s) => `${s.method} ${s.path} ${s.status}`);
  return { fetch, seen, lines };
}

/** Starts listening on a free loopback port; answers the base URL. */
export function listen(app: { listen(options: { port: number; hostname: string }): unknown; server?: { port?: number } | null }): string {
  app.listen({ port: 0, hostname: "127.0.0.1" });
  return `http://127.0.0.1:${app.server?.port}`;
}

export const PASSWORD = "SecurePass123";

/** The MemoryMeshError a call fails with (any other failure, or none, fails the test). */
export async function failure(promise: Promise<unknown>): Promise<MemoryMeshError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MemoryMeshError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}
