import { assertTenant, canSeeTenant } from "../auth/credentials";
import type { Principal } from "../auth/model";
import type { Deps } from "../deps";
import { notFound, validationFailed } from "../errors";
import type { FieldError } from "../http/error-response";
import { type Message, toMessage } from "../messages/model";
import { loadMessages, loadRows } from "../messages/read";
import { removeMessages } from "../messages/remove";
import { timeFields } from "../messages/timestamps";
import { emitEvent } from "../events/emit";
import { deleteMatching } from "../store/erase";
import { keys, tenantMember } from "../store/keys";
import { queueOf } from "../store/queue";
import { type SortedPosition, sortedPage } from "../store/sorted-pages";
import { metadataTags } from "../store/text";
import type { DataJob, DeleteFilter } from "./model";

export type DataJobDeps = Pick<Deps, "redis" | "vectors" | "queues" | "embedder">;

/** Entries walked per step: each step is a few small commands, so no single one holds Redis up. */
const STEP = 200;
/** How long a finished job's record is kept. */
const FINISHED_TTL_S = 7 * 86_400;
const ATTEMPTS = 10;

const TIME_FILTERS = ["created_after", "created_before"] as const;

const newDataJobId = () => `dj-${Bun.randomUUIDv7()}`;

/** The job's record as the API shows it. */
function toDataJob(row: Record<string, string>): DataJob {
  return {
    id: row.id,
    kind: row.kind as DataJob["kind"],
    tenant_id: row.tenant_id,
    filter: row.filter ? (JSON.parse(row.filter) as DeleteFilter) : null,
    status: row.status as DataJob["status"],
    deleted: Number(row.deleted ?? 0),
    created_at: row.created_at,
    started_at: row.started_at || null,
    finished_at: row.finished_at || null,
    error: row.error || null,
  };
}

/** Checks a delete filter's timestamps, naming each bad one. */
function checkFilter(filter: DeleteFilter): void {
  const problems: FieldError[] = [];
  timeFields(filter, TIME_FILTERS, problems);
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
}

/**
 * Records a data job and queues it on the account's shard queue; workers run it in small steps,
 * recording progress after each, so a job whose worker dies is taken up again (BullMQ returns it
 * when its lock lapses) and carries on where it was: deletions are idempotent and counted in the
 * same atomic step as each removal, so nothing is half-deleted or counted twice.
 */
export async function startDataJob(deps: DataJobDeps, principal: Principal, kind: DataJob["kind"], tenant: string, filter?: DeleteFilter): Promise<DataJob> {
  assertTenant(principal, tenant, "write");
  if (filter) checkFilter(filter);
  const { account } = principal;
  const id = newDataJobId();
  const record = { id, kind, tenant_id: tenant, filter: filter ? JSON.stringify(filter) : "", status: "queued", deleted: "0", created_at: new Date().toISOString() };
  await deps.redis.hset(keys.dataJob(account, id), record);
  await queueOf(deps.queues, account).add("data", { account, dataJob: id }, {
    jobId: id,
    attempts: ATTEMPTS,
    backoff: { type: "exponential", delay: 1000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: FINISHED_TTL_S, count: 100_000 },
  });
  return toDataJob(record);
}

/** A data job of the caller's account (404 for another account's, or a tenant the credential may not see). */
export async function getDataJob(deps: Pick<Deps, "redis">, principal: Principal, id: string): Promise<DataJob> {
  const row = await deps.redis.hgetall(keys.dataJob(principal.account, id));
  if (!row.id || !canSeeTenant(principal, row.tenant_id)) throw notFound("Job");
  assertTenant(principal, row.tenant_id, "read");
  return toDataJob(row);
}

/** Runs (or resumes) a data job; a worker's processor calls it. */
export async function runDataJob(deps: DataJobDeps, account: string, id: string): Promise<void> {
  const key = keys.dataJob(account, id);
  const row = await deps.redis.hgetall(key);
  if (!row.id || row.status === "completed" || row.status === "failed") return;
  await deps.redis.hset(key, "status", "running", "started_at", row.started_at || new Date().toISOString());
  const run: JobRun = { account, key, after: row.cursor ? (JSON.parse(row.cursor) as SortedPosition) : undefined };
  if (row.kind === "delete") await deleteByFilter(deps, run, JSON.parse(row.filter) as DeleteFilter);
  else await eraseTenant(deps, run, row.tenant_id, row.phase);
  await finish(deps, account, key, { status: "completed" });
}

/** After the last attempt: the job failed, with the reason. */
export async function failDataJob(deps: Pick<Deps, "redis">, account: string, id: string, reason: string): Promise<void> {
  await finish(deps, account, keys.dataJob(account, id), { status: "failed", error: reason.slice(0, 500) });
}

/** Records the outcome and sends `job.completed` / `job.failed` (webhooks) with the job as the API shows it. */
async function finish(deps: Pick<Deps, "redis">, account: string, key: string, fields: Record<string, string>): Promise<void> {
  await deps.redis.multi().hset(key, { ...fields, finished_at: new Date().toISOString() }).hdel(key, "cursor", "phase").expire(key, FINISHED_TTL_S).exec();
  const job = toDataJob(await deps.redis.hgetall(key));
  await emitEvent(deps.redis, account, { type: job.status === "completed" ? "job.completed" : "job.failed", tenant_id: job.tenant_id, data: job });
}

/** Where a job stands: its account, its record's key, the position reached in what it walks. */
interface JobRun {
  account: string;
  key: string;
  after?: SortedPosition;
}

/**
 * Walks a sorted set of message ids (a tenant's time index or a conversation) from the job's
 * position in steps, calling `step` with the stored messages of each; the position reached is
 * recorded in the job after each step, so a resumed job starts there.
 */
async function walk(deps: DataJobDeps, run: JobRun, source: string, range: { min?: number; maxExclusive?: number }, step: (messages: Message[]) => Promise<void>): Promise<void> {
  for (;;) {
    const entries = await sortedPage(deps.redis, source, { ...range, after: run.after }, STEP);
    if (entries.length === 0) return;
    const rows = await loadRows(deps, run.account, entries.map((e) => e.member));
    await step(rows.filter((r) => r.id).map(toMessage));
    run.after = entries[entries.length - 1];
    await deps.redis.hset(run.key, "cursor", JSON.stringify(run.after));
    if (entries.length < STEP) return;
  }
}

/** Deletes the messages of a tenant (or of one of its conversations) that match the filter. */
async function deleteByFilter(deps: DataJobDeps, run: JobRun, filter: DeleteFilter): Promise<void> {
  const { account } = run;
  const tenant = filter.tenant_id;
  const source = filter.conversation_id === undefined ? keys.tenantMessages(account, tenant) : keys.conversationMessages(account, tenant, filter.conversation_id);
  const { created_after: after, created_before: before } = timeFields(filter, TIME_FILTERS, []);
  const range = { min: after === undefined ? undefined : after * 1000, maxExclusive: before === undefined ? undefined : before * 1000 };
  const wanted = filter.metadata ? metadataTags(filter.metadata) : [];
  await walk(deps, run, source, range, async (messages) => {
    const matching = messages.filter((m) => {
      if (m.tenant_id !== tenant || wanted.length === 0) return m.tenant_id === tenant;
      const tags = new Set(metadataTags(m.metadata));
      return wanted.every((tag) => tags.has(tag));
    });
    await removeMessages(deps, account, matching, { reason: "filter", jobKey: run.key });
  });
}

/**
 * Erases a tenant in three phases, each resumable: its messages (by its time index), then its
 * conversations (with any message they still list), then its own keys, ending with a sweep of the
 * key space for anything named after it.
 */
async function eraseTenant(deps: DataJobDeps, run: JobRun, tenant: string, phase: string | undefined): Promise<void> {
  const { account, key } = run;
  const { redis } = deps;
  if (!phase || phase === "messages") {
    await walk(deps, run, keys.tenantMessages(account, tenant), {}, async (messages) => {
      await removeMessages(deps, account, messages, { reason: "tenant_erased", jobKey: key });
    });
    run.after = undefined;
    await redis.multi().hset(key, "phase", "conversations").hdel(key, "cursor").exec();
  }
  if (phase !== "keys") {
    const conversations = keys.conversations(account, tenant);
    for (;;) {
      const ids = await redis.zrange(conversations, "0", String(STEP - 1));
      if (ids.length === 0) break;
      for (const conversation of ids) {
        const listed = keys.conversationMessages(account, tenant, conversation);
        for (;;) {
          const messageIds = await redis.zrange(listed, "0", String(STEP - 1));
          if (messageIds.length === 0) break;
          await removeMessages(deps, account, await loadMessages(deps, account, messageIds, { includeExpired: true }), { reason: "tenant_erased", jobKey: key });
          await redis.zrem(listed, ...messageIds);
        }
        await redis
          .multi()
          .del(keys.conversation(account, tenant, conversation), listed)
          .zrem(conversations, conversation)
          .srem(keys.conversationTenants(account, conversation), tenant)
          .exec();
      }
    }
    await redis.hset(key, "phase", "keys");
  }
  await redis
    .multi()
    .srem(keys.tenants(account), tenant)
    .srem(keys.retentionTenantsOf(account), tenantMember(account, tenant))
    .exec();
  await deleteMatching(redis, keys.tenantDataPatterns(account, tenant, deps.embedder.modelKey));
}
