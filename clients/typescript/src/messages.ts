import { MemoryMeshError } from "./errors.js";
import { type CallOptions, segment, type Transport } from "./transport.js";
import type { DataJob, DeleteFilter, ListMessagesQuery, Message, MessageBatch, MessageInput, MessagePage, MessageUpdate } from "./types.js";
import { eachLimited, poll, type WaitOptions } from "./waiting.js";

export interface WriteOptions extends CallOptions {
  /**
   * The `Idempotency-Key` of this write: by default a fresh UUID per call (unless the client was
   * made with `idempotencyKeys: false`), sent again on each of its retries, so a retried write is
   * stored once. Give your own to make a write safe to repeat across processes; `null` sends none.
   */
  idempotencyKey?: string | null;
}

/** Lookups in flight at once while waiting for messages to be indexed. */
const WAIT_CONCURRENCY = 8;

/** Messages: stored at once (202, `pending`), indexed in the background (`indexed` or `failed`). */
export class Messages {
  constructor(
    private readonly http: Transport,
    private readonly idempotencyKeys: boolean,
  ) {}

  /** Stores a message; the answer has `status: "pending"` (see waitForIndexed). */
  store(input: MessageInput, options: WriteOptions = {}): Promise<Message> {
    const key = this.keyFor(options);
    return this.http.json({
      method: "POST",
      path: "/v1/messages",
      json: input,
      auth: true,
      repeatable: key !== undefined || typeof input.id === "string",
      headers: key === undefined ? undefined : { "idempotency-key": key },
      signal: options.signal,
    });
  }

  /** Stores 1 to 1,000 messages at once, all or nothing; `created` is in input order. */
  storeBatch(messages: MessageInput[], options: WriteOptions = {}): Promise<MessageBatch> {
    const key = this.keyFor(options);
    return this.http.json({
      method: "POST",
      path: "/v1/messages/batch",
      json: { messages },
      auth: true,
      repeatable: key !== undefined || messages.every((m) => typeof m.id === "string"),
      headers: key === undefined ? undefined : { "idempotency-key": key },
      signal: options.signal,
    });
  }

  get(id: string, options: CallOptions = {}): Promise<Message> {
    return this.http.json({ method: "GET", path: `/v1/messages/${segment(id)}`, auth: true, repeatable: true, signal: options.signal });
  }

  /** One page of a tenant's (or a conversation's) messages; pass `next_cursor` as `cursor` for the next. */
  list(query: ListMessagesQuery, options: CallOptions = {}): Promise<MessagePage> {
    return this.http.json({ method: "GET", path: "/v1/messages", query, auth: true, repeatable: true, signal: options.signal });
  }

  /** Every page, from `query.cursor` (or the start) to the end. */
  async *pages(query: ListMessagesQuery, options: CallOptions = {}): AsyncGenerator<MessagePage, void, undefined> {
    let cursor = query.cursor;
    do {
      const page = await this.list({ ...query, cursor }, options);
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Every message the query matches, page after page (`limit` is the page size). */
  async *listAll(query: ListMessagesQuery, options: CallOptions = {}): AsyncGenerator<Message, void, undefined> {
    for await (const page of this.pages(query, options)) yield* page.messages;
  }

  /** Updates the fields given; new `content` is embedded again (`pending` until `message.indexed`). */
  update(id: string, update: MessageUpdate, options: CallOptions = {}): Promise<Message> {
    return this.http.json({ method: "PATCH", path: `/v1/messages/${segment(id)}`, json: update, auth: true, repeatable: true, signal: options.signal });
  }

  delete(id: string, options: CallOptions = {}): Promise<void> {
    return this.http.none({ method: "DELETE", path: `/v1/messages/${segment(id)}`, auth: true, repeatable: false, signal: options.signal });
  }

  /** Starts a job deleting the tenant's messages that match every filter given (see jobs.waitForJob). */
  deleteByFilter(filter: DeleteFilter, options: CallOptions = {}): Promise<DataJob> {
    return this.http.json({ method: "POST", path: "/v1/messages/delete", json: filter, auth: true, repeatable: false, signal: options.signal });
  }

  /**
   * The messages once every one is `indexed` (in the order given; default timeout 60 s). Throws
   * MemoryMeshError `indexing_failed` (the message's `error`; the message in `details`) for a
   * message that failed, the 404 of one deleted meanwhile, `timeout` (the ids still pending in
   * `details.pending`) when the time is up.
   *
   * It polls GET /v1/messages/{id} rather than listening to the event stream: the stream does not
   * replay, so an event sent before the socket opened or while it reconnects would be missed and the
   * wait would hang; a read, by contrast, is always right. It asks only about the messages not yet
   * settled, 8 at a time, pausing longer between rounds (100 ms doubling to 2 s): a batch indexed
   * in one go costs about one read per message.
   */
  async waitForIndexed(messages: string | Pick<Message, "id"> | (string | Pick<Message, "id">)[], options: WaitOptions = {}): Promise<Message[]> {
    const ids = (Array.isArray(messages) ? messages : [messages]).map((m) => (typeof m === "string" ? m : m.id));
    const settled = new Map<string, Message>();
    await poll(
      `${ids.length} message(s) to be indexed`,
      options,
      60_000,
      async (signal) => {
        const waiting = [...new Set(ids)].filter((id) => !settled.has(id));
        await eachLimited(waiting, WAIT_CONCURRENCY, async (id) => {
          const message = await this.get(id, { signal });
          if (message.status === "failed") {
            throw new MemoryMeshError({ status: 0, code: "indexing_failed", message: message.error ?? `Message ${id} failed to index`, details: message });
          }
          if (message.status === "indexed") settled.set(id, message);
        });
        return settled.size === new Set(ids).size ? true : undefined;
      },
      () => ({ pending: ids.filter((id) => !settled.has(id)) }),
    );
    return ids.map((id) => settled.get(id) as Message);
  }

  private keyFor(options: WriteOptions): string | undefined {
    if (options.idempotencyKey === null) return undefined;
    return options.idempotencyKey ?? (this.idempotencyKeys ? crypto.randomUUID() : undefined);
  }
}
