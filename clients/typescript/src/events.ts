import { MemoryMeshError } from "./errors.js";
import type { Credential } from "./session.js";
import { segment, sleep, type Transport } from "./transport.js";
import type { MessageEvent } from "./types.js";

/**
 * Opens a WebSocket. The default is the platform's `WebSocket` (Bun, Node 22+, browsers); on Node 20
 * pass one, e.g. `(url, headers, protocols) => new WebSocket(url, protocols, { headers })` from the
 * `ws` package. `headers` is given only with `socketCredentials: "headers"`, `protocols` only with
 * `"subprotocol"`.
 */
export type WebSocketFactory = (url: string, headers?: Record<string, string>, protocols?: string[]) => WebSocket;

/**
 * How a socket carries the credential: `query` (`?token=` / `?api_key=`, the default, works
 * everywhere), `subprotocol` (offered as `Sec-WebSocket-Protocol: memory-mesh, bearer.<base64url>`:
 * any standard WebSocket, browsers included, and the credential stays out of URLs and logs) or
 * `headers` (`Authorization` / `x-api-key`, for WebSockets that take headers, as Bun's and the `ws`
 * package's do).
 */
export type SocketCredentials = "query" | "headers" | "subprotocol";

/** base64url of an ASCII credential (tokens and API keys are ASCII). */
const base64url = (value: string) => btoa(value).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export interface EventStreamOptions {
  /** Only this conversation's events. */
  conversationId?: string;
  /** Stops the stream (the iteration ends); as does `close()`, `return()` or leaving a `for await`. */
  signal?: AbortSignal;
  /** Connections that may fail in a row before the stream gives up (default 8; a connection that opened resets the count). */
  maxFailures?: number;
  /** First pause before reconnecting, ms (default 250); doubles per failure, with jitter, up to `maxDelayMs`. */
  baseDelayMs?: number;
  /** Longest pause before reconnecting, ms (default 10000). */
  maxDelayMs?: number;
  /** Called each time a connection opens (`connection` counts from 1). Events sent while none was open are not replayed. */
  onOpen?: (info: { connection: number }) => void;
  /** Called each time a connection closes or fails to open (with the close code and reason), before the stream reconnects or ends. */
  onClose?: (info: { code: number; reason: string; opened: boolean }) => void;
}

interface Closed {
  opened: boolean;
  code: number;
  reason: string;
}

type Waiter = { resolve(result: IteratorResult<MessageEvent, undefined>): void; reject(error: unknown): void };

/**
 * A tenant's events as an async iterator, over one WebSocket at a time, reconnected as the server's
 * close code says (README, "WebSocket events"): 1001 (server shutting down) and lost connections
 * reconnect with backoff; 4001 (credential expired) renews the access token, then reconnects; 4002
 * (API key revoked) and 4003 (account deleted) end the stream with MemoryMeshError
 * `api_key_revoked` / `account_deleted`. A connection refused before it opens is explained by an
 * HTTP request for the tenant (a 401 renews the token; 401/403/404 after that end the stream).
 *
 * Events arriving faster than they are read are kept in order until read.
 */
export class EventStream implements AsyncIterator<MessageEvent, undefined>, AsyncIterable<MessageEvent> {
  /** Settles when the first connection opens (events from then on are delivered), or rejects when the stream ends first. */
  readonly opened: Promise<void>;
  private markOpened!: () => void;
  private failOpened!: (error: unknown) => void;
  private readonly queue: MessageEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: { error: unknown } | undefined;
  private finished = false;
  private socket: WebSocket | undefined;
  private connections = 0;
  private readonly stop = new AbortController();

  constructor(
    private readonly transport: Transport,
    private readonly openSocket: WebSocketFactory,
    private readonly credentials: SocketCredentials,
    private readonly tenantId: string,
    private readonly options: EventStreamOptions = {},
  ) {
    this.opened = new Promise<void>((resolve, reject) => {
      this.markOpened = resolve;
      this.failOpened = reject;
    });
    this.opened.catch(() => undefined);
    const signal = options.signal;
    if (signal?.aborted) this.end();
    else {
      signal?.addEventListener("abort", () => this.end(), { once: true });
      this.run().then(
        () => this.end(),
        (error) => this.end(error),
      );
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<MessageEvent, undefined>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Stops the stream: the socket is closed and the iteration ends. */
  async return(): Promise<IteratorResult<MessageEvent, undefined>> {
    this.end();
    return { value: undefined, done: true };
  }

  close(): void {
    this.end();
  }

  private async run(): Promise<void> {
    const maxFailures = this.options.maxFailures ?? 8;
    let failures = 0;
    while (!this.finished) {
      const credential = await this.transport.session.credential();
      const closed = await this.connect(credential);
      if (this.finished) return;
      this.options.onClose?.({ code: closed.code, reason: closed.reason, opened: closed.opened });
      if (closed.opened) failures = 0;
      if (closed.code === 4002) throw this.closedError("api_key_revoked", closed, "API key revoked");
      if (closed.code === 4003) throw this.closedError("account_deleted", closed, "account deleted");
      if (closed.code === 4001 && (await this.transport.session.renew(credential))) continue;
      if (!closed.opened || closed.code === 4001) await this.explainRefusal();
      failures++;
      if (failures >= maxFailures) throw this.closedError("stream_failed", closed, `${failures} connections in a row failed`);
      const ceiling = Math.min(this.options.maxDelayMs ?? 10_000, (this.options.baseDelayMs ?? 250) * 2 ** (failures - 1));
      await sleep(ceiling / 2 + (Math.random() * ceiling) / 2, this.stop.signal);
    }
  }

  /** One connection, until it closes; a factory that throws (no WebSocket here) ends the stream. */
  private connect(credential: Credential): Promise<Closed> {
    return new Promise((resolve, reject) => {
      const query: Record<string, string | undefined> = { conversation_id: this.options.conversationId };
      let headers: Record<string, string> | undefined;
      let protocols: string[] | undefined;
      if (this.credentials === "headers" && credential.header) headers = { [credential.header.name]: credential.header.value };
      else if (this.credentials === "subprotocol" && credential.query)
        protocols = ["memory-mesh", `${credential.query.name === "token" ? "bearer" : "apikey"}.${base64url(credential.query.value)}`];
      else if (credential.query) query[credential.query.name] = credential.query.value;
      const url = this.transport.url(`/ws/messages/${segment(this.tenantId)}`, query).replace(/^http/, "ws");
      let opened = false;
      let socket: WebSocket;
      try {
        socket = this.openSocket(url, headers, protocols);
      } catch (error) {
        return reject(error);
      }
      this.socket = socket;
      socket.onopen = () => {
        opened = true;
        this.connections++;
        this.markOpened();
        this.options.onOpen?.({ connection: this.connections });
      };
      socket.onmessage = (message) => {
        if (typeof message.data !== "string") return;
        try {
          this.deliver(JSON.parse(message.data) as MessageEvent);
        } catch {
          // not an event: ignored
        }
      };
      socket.onerror = () => undefined; // a close follows, with its code
      socket.onclose = (close) => {
        if (this.socket === socket) this.socket = undefined;
        resolve({ opened, code: close.code, reason: close.reason });
      };
    });
  }

  /**
   * A WebSocket refused at the upgrade shows no status, so the same credential asks the HTTP API
   * about the tenant (same permission as the socket): a 401 there renews the token the usual way,
   * and what is still refused after that ends the stream. Network errors and 5xx leave it to retry.
   */
  private async explainRefusal(): Promise<void> {
    try {
      await this.transport.none({ method: "GET", path: `/v1/tenants/${segment(this.tenantId)}`, auth: true, repeatable: true, signal: this.stop.signal });
    } catch (error) {
      if (error instanceof MemoryMeshError && error.status >= 400 && error.status < 500 && error.status !== 429) throw error;
      if (this.stop.signal.aborted) return;
    }
  }

  private closedError(code: string, closed: Closed, what: string): MemoryMeshError {
    return new MemoryMeshError({ status: 0, code, message: `Event stream ended: ${closed.reason || what} (close code ${closed.code})`, details: { close_code: closed.code } });
  }

  private deliver(event: MessageEvent): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value: event, done: false });
    else this.queue.push(event);
  }

  /** Ends the stream; with an error, the next read (or the one waiting) throws it, after the events already received. */
  private end(error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.stop.abort();
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState <= 1) socket.close(1000, "client closed");
    if (error !== undefined) this.failOpened(error);
    else this.failOpened(new MemoryMeshError({ status: 0, code: "stream_failed", message: "Event stream closed before it opened" }));
    const waiters = this.waiters.splice(0);
    if (error !== undefined && waiters.length === 0) this.failure = { error };
    for (const [i, waiter] of waiters.entries()) {
      if (i === 0 && error !== undefined) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }
}
