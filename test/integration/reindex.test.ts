import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import type { Config } from "../../src/config";
import { startIndexingWorker } from "../../src/memory/worker";
import { queueOf } from "../../src/store/queue";
import { eventually, freshWindow, useHarness } from "../helpers/app";

/** No worker at first: stored messages stay pending and a reindex's jobs wait, until the test starts one. */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10" });

/** An app over the same deps with its own rate budget (an hour's window: a counter of its own). */
function withBudget(limits: Partial<Config>) {
  const app = createApp({ ...h.deps, config: { ...h.deps.config, RATE_LIMIT_WINDOW_S: 3600, ...limits } });
  return async (token: string, body: unknown) => {
    const res = await app.handle(
      new Request("http://localhost/v1/memory/reindex", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
    );
    return { status: res.status, body: await res.json(), remaining: res.headers.get("ratelimit-remaining") };
  };
}


async function storePending(token: string, tenant: string, count: number) {
  const messages = Array.from({ length: count }, (_, i) => ({ tenant_id: tenant, conversation_id: "c", role: "user", content: `message number ${i}` }));
  const res = await h.json("POST", "/v1/messages/batch", { token, body: { messages } });
  expect(res.status).toBe(202);
  return res.body.created.map((m: { id: string }) => m.id) as string[];
}

const waitingJobs = async (account: string) => (await queueOf(h.deps.queues, account).getJobCounts("waiting")).waiting;

describe("reindex is charged by the messages it queues", () => {
  test("1 request plus 1 per RATE_LIMIT_BATCH_UNIT messages, before anything is queued", async () => {
    await freshWindow(3600);
    const { token } = await h.account();
    await storePending(token, "charged", 7);
    const reindex = withBudget({ RATE_LIMIT_REQUESTS: 5, RATE_LIMIT_BATCH_UNIT: 2 });
    // 1 + ceil(7 / 2) = 5: the whole budget.
    expect(await reindex(token, { tenant_id: "charged", mode: "pending" })).toEqual({ status: 202, body: { queued: 7 }, remaining: "0" });
    const refused = await reindex(token, { tenant_id: "charged", mode: "pending" });
    expect(refused.status).toBe(429);
  });

  test("a reindex the budget can never cover is refused with 400 and queues nothing", async () => {
    const { token, userId } = await h.account();
    await storePending(token, "big", 7);
    const before = await waitingJobs(userId);
    const tooSmall = withBudget({ RATE_LIMIT_REQUESTS: 3, RATE_LIMIT_BATCH_UNIT: 2 });
    const refused = await tooSmall(token, { tenant_id: "big", mode: "pending" });
    expect(refused).toMatchObject({
      status: 400,
      body: { code: "too_large_for_rate_limit", details: { messages: 7, cost: 4, limit: 3 } },
    });
    expect(await waitingJobs(userId)).toBe(before);
    // Nothing holds the tenant: a reindex with room in its budget goes ahead.
    const roomy = withBudget({ RATE_LIMIT_REQUESTS: 100, RATE_LIMIT_BATCH_UNIT: 2 });
    expect(await roomy(token, { tenant_id: "big", mode: "pending" })).toMatchObject({ status: 202, body: { queued: 7 } });
  });
});

describe("one reindex per tenant at a time", () => {
  test("a second reindex is refused (409) until the first one's messages are processed", async () => {
    const { token } = await h.account();
    const ids = await storePending(token, "busy", 3);
    const first = await h.json("POST", "/v1/memory/reindex", { token, body: { tenant_id: "busy", mode: "pending" } });
    expect(first).toMatchObject({ status: 202, body: { queued: 3 } });
    const second = await h.json("POST", "/v1/memory/reindex", { token, body: { tenant_id: "busy", mode: "all" } });
    expect(second).toMatchObject({ status: 409, body: { code: "reindex_running", details: { queued: 3, jobs_waiting: 1 } } });
    // Another tenant of the same account is not held up.
    await storePending(token, "quiet", 1);
    expect((await h.json("POST", "/v1/memory/reindex", { token, body: { tenant_id: "quiet", mode: "pending" } })).status).toBe(202);

    const worker = startIndexingWorker(h.deps);
    h.cleanup(() => worker.close());
    await eventually("indexed", async () => {
      const statuses = await Promise.all(ids.map(async (id) => (await h.json("GET", `/v1/messages/${id}`, { token })).body.status));
      return statuses.every((s) => s === "indexed");
    }, 60_000);
    const third = await eventually("reindex allowed again", async () => {
      const res = await h.json("POST", "/v1/memory/reindex", { token, body: { tenant_id: "busy", mode: "all" } });
      return res.status === 202 && res;
    });
    expect(third.body).toEqual({ queued: 3 });
  });
});
