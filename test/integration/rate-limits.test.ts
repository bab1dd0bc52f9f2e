import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { freshWindow, useHarness } from "../helpers/app";

const h = useHarness();


describe("rate limit per account", () => {
  test("every credential of an account draws on one account budget: more keys are not more throughput", async () => {
    await freshWindow(3600);
    const app = createApp({ ...h.deps, config: { ...h.deps.config, RATE_LIMIT_WINDOW_S: 3600, RATE_LIMIT_REQUESTS: 3, ACCOUNT_RATE_LIMIT_REQUESTS: 4 } });
    const call = async (key: string, method = "GET", body?: unknown) => {
      const path = method === "GET" ? "/v1/conversations?tenant_id=t" : "/v1/messages";
      const headers: Record<string, string> = { "x-api-key": key };
      if (body) headers["content-type"] = "application/json";
      const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined }));
      return { status: res.status, limit: res.headers.get("ratelimit-limit"), remaining: res.headers.get("ratelimit-remaining") };
    };
    const { token } = await h.account();
    const [first, second] = await Promise.all(["first", "second"].map(async (name) => (await h.json("POST", "/v1/auth/api-keys", { token, body: { name } })).body.key as string));

    // The headers show the budget with less left: the key's (3) before the account's (4).
    expect(await call(first)).toEqual({ status: 200, limit: "3", remaining: "2" });
    expect(await call(first)).toEqual({ status: 200, limit: "3", remaining: "1" });
    expect(await call(second)).toEqual({ status: 200, limit: "4", remaining: "1" });
    expect(await call(second)).toEqual({ status: 200, limit: "4", remaining: "0" });
    // The second key has used 2 of its own 3, but the account's 4 are spent: reads and writes are refused.
    expect((await call(second)).status).toBe(429);
    const write = await call(second, "POST", { tenant_id: "t", conversation_id: "c", role: "user", content: "over the account budget" });
    expect(write.status).toBe(429);
    const history = await h.json("GET", "/v1/conversations/c/messages?tenant_id=t", { token });
    expect(history.status).toBe(404); // the conversation was never created

    // Another account is not affected.
    const other = await h.account();
    const otherKey = (await h.json("POST", "/v1/auth/api-keys", { token: other.token, body: { name: "k" } })).body.key;
    expect((await call(otherKey)).status).toBe(200);
  });
});
