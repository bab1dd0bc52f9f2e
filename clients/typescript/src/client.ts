import { Auth } from "./auth.js";
import { Conversations } from "./conversations.js";
import { EventStream, type EventStreamOptions, type SocketCredentials, type WebSocketFactory } from "./events.js";
import { Jobs } from "./jobs.js";
import { Messages } from "./messages.js";
import { Session } from "./session.js";
import { Tenants } from "./tenants.js";
import { type CallOptions, type FetchLike, type RetryOptions, Transport } from "./transport.js";
import type { ReindexInput, ReindexResponse, SearchRequest, SearchResponse, Tokens } from "./types.js";
import { Webhooks } from "./webhooks.js";

export interface ClientOptions {
  /** Where the API is, e.g. `https://memory.example.com` (no `/v1`). */
  baseUrl: string;
  /** Authenticate with an API key (`x-api-key`). */
  apiKey?: string;
  /** Authenticate with tokens from an earlier login; the refresh token renews the access token on a 401. */
  accessToken?: string;
  refreshToken?: string;
  /** Log in with these on the first call, and again whenever the refresh token no longer works. */
  email?: string;
  password?: string;
  /** Told every new token pair (login, refresh): refresh tokens rotate, so keep the latest if you store them. */
  onTokens?: (tokens: Tokens) => void;
  /** Retries of 429 (after `Retry-After`), 503 and lost connections (see RetryOptions). */
  retry?: RetryOptions;
  /** Send an `Idempotency-Key` with every store (default true): a retried write is stored once. */
  idempotencyKeys?: boolean;
  /** Headers added to every request. */
  headers?: Record<string, string>;
  /** The `fetch` to use (default: the platform's). */
  fetch?: FetchLike;
  /** Opens the event stream's sockets (default: the platform's `WebSocket`). */
  webSocket?: WebSocketFactory;
  /** How sockets carry the credential (default `query`; see SocketCredentials). */
  socketCredentials?: SocketCredentials;
}

/**
 * The Memory Mesh API. One client holds one credential (an API key, or a user's tokens) and is
 * safe to share: concurrent calls that meet an expired token share one refresh.
 */
export class MemoryMeshClient {
  readonly auth: Auth;
  readonly messages: Messages;
  readonly conversations: Conversations;
  readonly tenants: Tenants;
  readonly jobs: Jobs;
  readonly webhooks: Webhooks;
  private readonly http: Transport;
  private readonly openSocket: WebSocketFactory;
  private readonly socketCredentials: SocketCredentials;

  constructor(options: ClientOptions) {
    const session = new Session(options);
    this.http = new Transport(options.baseUrl, session, options);
    session.calls = {
      login: (email, password) =>
        this.http.json({ method: "POST", path: "/v1/auth/login", json: { email, password }, auth: false, repeatable: true }),
      refresh: (refreshToken) =>
        this.http.json({ method: "POST", path: "/v1/auth/refresh", json: { refresh_token: refreshToken }, auth: false, repeatable: false }),
    };
    this.auth = new Auth(this.http, session);
    this.messages = new Messages(this.http, options.idempotencyKeys ?? true);
    this.conversations = new Conversations(this.http);
    this.tenants = new Tenants(this.http);
    this.jobs = new Jobs(this.http);
    this.webhooks = new Webhooks(this.http);
    this.openSocket = options.webSocket ?? platformWebSocket;
    this.socketCredentials = options.socketCredentials ?? "query";
  }

  /** A client logged in with email and password (it logs in again by itself when its refresh token stops working). */
  static async login(options: ClientOptions & { email: string; password: string }): Promise<MemoryMeshClient> {
    const client = new MemoryMeshClient(options);
    await client.auth.login({ email: options.email, password: options.password });
    return client;
  }

  /** Searches a tenant's indexed messages (POST /v1/memory/search: the GET form takes the same fields). */
  search(request: SearchRequest, options: CallOptions = {}): Promise<SearchResponse> {
    return this.http.json({ method: "POST", path: "/v1/memory/search", json: request, auth: true, repeatable: true, signal: options.signal });
  }

  /** Queues a tenant's `failed` (default), `pending` or `all` messages for indexing again. */
  reindex(input: ReindexInput, options: CallOptions = {}): Promise<ReindexResponse> {
    return this.http.json({ method: "POST", path: "/v1/memory/reindex", json: input, auth: true, repeatable: false, signal: options.signal });
  }

  /**
   * The tenant's events (`message.created`, `indexed`, `failed`, `updated`, `deleted`) as they
   * happen, reconnecting by itself. `await stream.opened` before doing what should be heard.
   *
   * ```ts
   * for await (const event of client.events("my-app")) if (event.type === "message.indexed") ...
   * ```
   */
  events(tenantId: string, options: EventStreamOptions = {}): EventStream {
    return new EventStream(this.http, this.openSocket, this.socketCredentials, tenantId, options);
  }
}

/** The platform's WebSocket, looked up when a stream opens (Node 20 has none: pass `webSocket`). */
function platformWebSocket(url: string, headers?: Record<string, string>, protocols?: string[]): WebSocket {
  if (typeof WebSocket === "undefined") throw new Error("This platform has no WebSocket (Node 20): pass `webSocket` in the client options");
  if (!headers) return new WebSocket(url, protocols);
  // Bun's WebSocket (and undici's, Node 22+) take headers in a second argument the DOM type does not know.
  const WithHeaders = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
  return new WithHeaders(url, { headers });
}
