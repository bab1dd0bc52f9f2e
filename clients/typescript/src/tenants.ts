import { MemoryMeshError } from "./errors.js";
import { type ImportSource, importBody, parseLines } from "./ndjson.js";
import { type CallOptions, segment, type Transport } from "./transport.js";
import type { DataJob, ExportLine, ImportReport, ListTenantsQuery, PolicyInput, Tenant, TenantList, TenantPolicy } from "./types.js";

export interface ExportOptions extends CallOptions {
  /** Add each indexed message's vector (base64 FLOAT32) and model, so an import needs no embedding. */
  includeVectors?: boolean;
}

/** Tenants: counts by status, retention policy, erase, export and import. */
export class Tenants {
  constructor(private readonly http: Transport) {}

  /** One page of your tenants (an API key sees those it may use); pass `next_cursor` as `cursor` for the next. */
  list(query: ListTenantsQuery = {}, options: CallOptions = {}): Promise<TenantList> {
    return this.http.json({ method: "GET", path: "/v1/tenants", query, auth: true, repeatable: true, signal: options.signal });
  }

  /** Every tenant, page after page. */
  async *listAll(query: ListTenantsQuery = {}, options: CallOptions = {}): AsyncGenerator<Tenant, void, undefined> {
    let cursor = query.cursor;
    do {
      const page = await this.list({ ...query, cursor }, options);
      yield* page.tenants;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** A tenant's counts: when `pending` is 0, everything sent to it is searchable (or failed). */
  get(tenantId: string, options: CallOptions = {}): Promise<Tenant> {
    return this.http.json({ method: "GET", path: `/v1/tenants/${segment(tenantId)}`, auth: true, repeatable: true, signal: options.signal });
  }

  getPolicy(tenantId: string, options: CallOptions = {}): Promise<TenantPolicy> {
    return this.http.json({ method: "GET", path: `/v1/tenants/${segment(tenantId)}/policy`, auth: true, repeatable: true, signal: options.signal });
  }

  /** `retention_days: null` removes the policy. */
  setPolicy(tenantId: string, policy: PolicyInput, options: CallOptions = {}): Promise<TenantPolicy> {
    return this.http.json({ method: "PUT", path: `/v1/tenants/${segment(tenantId)}/policy`, json: policy, auth: true, repeatable: true, signal: options.signal });
  }

  /** Starts a job erasing every message, conversation, vector and policy of the tenant (idempotent; see jobs.waitForJob). */
  erase(tenantId: string, options: CallOptions = {}): Promise<DataJob> {
    return this.http.json({ method: "DELETE", path: `/v1/tenants/${segment(tenantId)}`, auth: true, repeatable: true, signal: options.signal });
  }

  /** The tenant's export as the server streams it (NDJSON bytes), e.g. to save to a file or to import elsewhere as it is. */
  async exportStream(tenantId: string, options: ExportOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.http.send({
      method: "GET",
      path: `/v1/tenants/${segment(tenantId)}/export`,
      query: { include_vectors: options.includeVectors || undefined },
      auth: true,
      repeatable: true,
      signal: options.signal,
    });
    if (!response.body) throw new MemoryMeshError({ status: response.status, code: "invalid_response", message: "The export answer has no body" });
    return response.body;
  }

  /**
   * The tenant's export, one parsed line at a time as it arrives (conversations, then messages
   * oldest first). Stopping early (leaving a `for await`) cancels the download.
   */
  async *export(tenantId: string, options: ExportOptions = {}): AsyncGenerator<ExportLine, void, undefined> {
    yield* parseLines<ExportLine>(await this.exportStream(tenantId, options));
  }

  /**
   * Imports NDJSON as exported (ids and `created_at` kept; idempotent by message id). Text and
   * arrays of lines can be retried after a 429 or 503; iterables and streams are sent as they are
   * read, once (re-run the import after an error: lines already imported are skipped free of charge).
   */
  import(tenantId: string, source: ImportSource, options: CallOptions = {}): Promise<ImportReport> {
    const body = importBody(source);
    return this.http.json({
      method: "POST",
      path: `/v1/tenants/${segment(tenantId)}/import`,
      body: { ...body, contentType: "application/x-ndjson" },
      auth: true,
      repeatable: body.replayable,
      signal: options.signal,
    });
  }
}
