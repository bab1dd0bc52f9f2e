import type { TokenPair } from "../../auth/model";

/**
 * The page's credential: an access token with its refresh token (email sign-in) or an API key.
 * It lives in this tab's sessionStorage (gone when the tab closes) and in memory, and travels only
 * in request headers and the WebSocket's subprotocol: never in a URL, never in the page's HTML.
 */
export type Session = { kind: "token"; access: string; refresh: string } | { kind: "apikey"; key: string };

const STORAGE_KEY = "memory-mesh-explorer.session";

let session: Session | null = load();
const listeners = new Set<(session: Session | null) => void>();

function load(): Session | null {
  try {
    const stored = sessionStorage.getItem(STORAGE_KEY);
    return stored ? (JSON.parse(stored) as Session) : null;
  } catch {
    return null;
  }
}

function keep(next: Session | null): void {
  const signedInBefore = session !== null;
  session = next;
  try {
    if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (private mode, quota): the session still lives in memory.
  }
  if (signedInBefore !== (next !== null)) for (const listener of listeners) listener(next);
}

export const currentSession = () => session;

/** Called when the page signs in or out (not on a token refresh). */
export function onSessionChange(listener: (session: Session | null) => void): void {
  listeners.add(listener);
}

/** An answer of the API that is not a success, as the API words it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    readonly requestId: string | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const requestId = response.headers.get("x-request-id");
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { message?: string; code?: string; details?: unknown; request_id?: string };
    return new ApiError(response.status, body.code ?? "error", body.message ?? response.statusText, body.details, body.request_id ?? requestId);
  } catch {
    return new ApiError(response.status, "error", text.slice(0, 200) || response.statusText || `HTTP ${response.status}`, undefined, requestId);
  }
}

function authHeaders(): Record<string, string> {
  if (!session) return {};
  return session.kind === "token" ? { authorization: `Bearer ${session.access}` } : { "x-api-key": session.key };
}

async function send(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new ApiError(0, "network_error", `Could not reach the server (${(error as Error).message})`, undefined, null);
  }
}

let refreshing: Promise<boolean> | null = null;

/** Trades the refresh token for a new pair, once for any number of requests that got a 401 meanwhile. */
function refreshTokens(): Promise<boolean> {
  const current = session;
  if (current?.kind !== "token") return Promise.resolve(false);
  refreshing ??= (async () => {
    const response = await send("POST", "/v1/auth/refresh", { refresh_token: current.refresh }, {});
    if (!response.ok) return false;
    const pair = (await response.json()) as TokenPair;
    // Only if nobody signed out (or in as someone else) meanwhile.
    if (session === current) keep({ kind: "token", access: pair.access_token, refresh: pair.refresh_token });
    return true;
  })()
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * A request to the API with the session's credential; a 401 on an access token refreshes it once and
 * retries. Throws ApiError for any answer that is not 2xx; a session that cannot be refreshed is ended.
 */
export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const used = session;
  let response = await send(method, path, body, authHeaders());
  if (response.status === 401 && used?.kind === "token") {
    if (session !== used || (await refreshTokens())) response = await send(method, path, body, authHeaders());
    if (response.status === 401) {
      const error = await errorOf(response);
      keep(null);
      throw new ApiError(401, error.code, "Your session has expired: sign in again", error.details, error.requestId);
    }
  }
  if (response.status === 401 && used?.kind === "apikey" && session === used) {
    const error = await errorOf(response);
    keep(null);
    throw new ApiError(401, error.code, `The API key was refused (${error.message}): sign in again`, error.details, error.requestId);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request("GET", path)).json() as Promise<T>;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await request("POST", path, body)).json() as Promise<T>;
}

/** Makes sure the access token is still good (refreshing it if not), as a WebSocket that failed to open cannot tell why. */
export async function checkSession(): Promise<void> {
  await request("GET", "/v1/auth/me");
}

/** Query string from the given values (undefined ones left out). */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) params.set(name, String(value));
  return params.toString();
}

export async function signInWithPassword(email: string, password: string): Promise<void> {
  const response = await send("POST", "/v1/auth/login", { email, password }, {});
  if (!response.ok) throw await errorOf(response);
  const pair = (await response.json()) as TokenPair;
  keep({ kind: "token", access: pair.access_token, refresh: pair.refresh_token });
}

/** Keeps the key only once the API has accepted it. */
export async function signInWithApiKey(key: string): Promise<void> {
  const response = await send("GET", "/v1/auth/me", undefined, { "x-api-key": key });
  if (!response.ok) throw await errorOf(response);
  keep({ kind: "apikey", key });
}

/** Forgets the credential; a refresh token is also revoked on the server (its login ends everywhere it was copied). */
export async function signOut(): Promise<void> {
  const ended = session;
  keep(null);
  if (ended?.kind === "token") await send("POST", "/v1/auth/logout", { refresh_token: ended.refresh }, {}).catch(() => undefined);
}

/** The WebSocket subprotocols that carry the credential (see the server's WS_SUBPROTOCOL). */
export function socketProtocols(): string[] {
  if (!session) return [];
  const [kind, secret] = session.kind === "token" ? ["bearer", session.access] : ["apikey", session.key];
  return ["memory-mesh", `${kind}.${base64url(secret)}`];
}

function base64url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Downloads a response body as a file: fetched with the credential in a header, handed to the
 * browser as a Blob (the link is a `blob:` URL; no token in it).
 */
export async function download(path: string, fallbackName: string): Promise<{ name: string; bytes: number }> {
  const response = await request("GET", path);
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, bytes: blob.size };
}
