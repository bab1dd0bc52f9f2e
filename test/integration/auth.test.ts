import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { forgetRevoked } from "../../src/auth/revocation";
import { DEV_JWT_SECRET } from "../../src/config";
import { callerCharge } from "../../src/auth/credentials";
import { closeDeps, createDeps } from "../../src/deps";
import { createRealtime } from "../../src/realtime/hub";
import { keys } from "../../src/store/keys";
import { eventually, freshWindow, useHarness } from "../helpers/app";

const h = useHarness();
const secret = new TextEncoder().encode(DEV_JWT_SECRET);

/** Rate-limit tests count requests in one fixed window: a long one, so a run rarely comes near its end. */
const WINDOW_S = 3600;

/** Sends a request that must be refused, and checks its Retry-After is the whole seconds left until `end`. */
async function expectRetryUntil(end: number, send: () => Promise<Response>): Promise<Response> {
  const before = Date.now();
  const res = await send();
  const after = Date.now();
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil((end - after) / 1000));
  expect(retryAfter).toBeLessThanOrEqual(Math.ceil((end - before) / 1000));
  return res;
}

describe("register and login", () => {
  test("the guide's flow: register, login, refresh, create an API key, use it", async () => {
    const reg = await h.json("POST", "/v1/auth/register", { body: { email: "flow@example.com", username: "flowuser", password: "SecurePass123" } });
    expect(reg.status).toBe(201);
    expect(reg.body).toEqual({ id: reg.body.id, email: "flow@example.com", username: "flowuser", created_at: reg.body.created_at });
    expect(JSON.stringify(reg.body)).not.toContain("SecurePass123");

    const login = await h.json("POST", "/v1/auth/login", { body: { email: "flow@example.com", password: "SecurePass123" } });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: "bearer", expires_in: 900 });

    const refreshed = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: login.body.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(login.body.refresh_token);

    const me = await h.json("GET", "/v1/auth/me", { token: refreshed.body.access_token });
    expect(me.body).toEqual(reg.body);

    const key = await h.json("POST", "/v1/auth/api-keys", { token: refreshed.body.access_token, body: { name: "backend", expires_days: null } });
    expect(key.status).toBe(201);
    expect(key.body).toMatchObject({ name: "backend", expires_at: null, scopes: ["read", "write"], tenant_ids: null });
    expect(key.body.key.startsWith(`${key.body.prefix}_`)).toBe(true);

    const stored = await h.json("POST", "/v1/messages", {
      apiKey: key.body.key,
      body: { tenant_id: "my-app", conversation_id: "user-123", role: "user", content: "hello", importance: null, metadata: null },
    });
    expect(stored.status).toBe(202);

    const list = await h.json("GET", "/v1/auth/api-keys", { token: refreshed.body.access_token });
    expect(list.body.api_keys).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(key.body.key);
    expect(list.body.api_keys[0].last_used_at).toEqual(expect.any(String));
  });

  test("validation: bad email, short username, weak password are 400 naming each field", async () => {
    const { status, body } = await h.json("POST", "/v1/auth/register", { body: { email: "nope", username: "ab", password: "onlyletters" } });
    expect(status).toBe(400);
    expect(body.details.map((d: { field: string }) => d.field).sort()).toEqual(["email", "password", "username"]);
  });

  test("duplicate email or username is 409", async () => {
    const body = { email: "dup@example.com", username: "dupuser", password: "SecurePass123" };
    expect((await h.json("POST", "/v1/auth/register", { body })).status).toBe(201);
    const sameEmail = await h.json("POST", "/v1/auth/register", { body: { ...body, email: "DUP@example.com", username: "other1" } });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body.code).toBe("email_taken");
    const sameName = await h.json("POST", "/v1/auth/register", { body: { ...body, email: "x@example.com" } });
    expect(sameName.body.code).toBe("username_taken");
  });

  test("unknown email and wrong password get the same 401", async () => {
    const { email } = await h.account("pw");
    const wrong = await h.json("POST", "/v1/auth/login", { body: { email, password: "WrongPass123" } });
    const unknown = await h.json("POST", "/v1/auth/login", { body: { email: `ghost-${email}`, password: "WrongPass123" } });
    const answer = ({ status, body }: { status: number; body: Record<string, unknown> }) => ({ status, code: body.code, message: body.message, details: body.details });
    expect(answer(wrong)).toEqual({ status: 401, code: "unauthorized", message: expect.any(String), details: undefined });
    expect(answer(unknown)).toEqual(answer(wrong));
    expect((await h.json("POST", "/v1/auth/login", { body: { email, password: "SecurePass123" } })).status).toBe(200);
  });
});

describe("tokens", () => {
  test("refresh tokens rotate; reusing an old one revokes the whole family", async () => {
    const { refresh } = await h.account();
    const first = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: refresh } });
    expect(first.status).toBe(200);
    const reuse = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: refresh } });
    expect(reuse.status).toBe(401);
    const newest = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: first.body.refresh_token } });
    expect(newest.status).toBe(401);
  });

  test("logout revokes the refresh token", async () => {
    const { refresh } = await h.account();
    expect((await h.request("POST", "/v1/auth/logout", { body: { refresh_token: refresh } })).status).toBe(204);
    expect((await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: refresh } })).status).toBe(401);
  });

  test("expired, tampered, wrong-algorithm and alg:none tokens are 401 with WWW-Authenticate", async () => {
    const { token, userId } = await h.account();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ sub: userId, typ: "access" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(now - 10).sign(secret);
    const hs512 = await new SignJWT({ sub: userId, typ: "access" }).setProtectedHeader({ alg: "HS512" }).setExpirationTime(now + 600).sign(secret);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: userId, typ: "access", exp: now + 600 })}.`;
    const [head, payload, sig] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const tampered = `${head}.${b64({ ...claims, sub: "usr_someone_else" })}.${sig}`;
    for (const bad of [expired, hs512, none, tampered, "garbage"]) {
      const res = await h.request("GET", "/v1/auth/me", { token: bad });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
      expect(((await res.json()) as { code: string }).code).toBe("unauthorized");
    }
    expect((await h.request("GET", "/v1/auth/me", { token })).status).toBe(200);
  });

  test("a verified token is remembered only until it expires; an altered copy is still checked", async () => {
    const { userId } = await h.account();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = await new SignJWT({ sub: userId, typ: "access" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(secret);
    const me = async (token: string) => (await h.request("GET", "/v1/auth/me", { token })).status;
    expect(await me(short)).toBe(200);
    expect(await me(short)).toBe(200);
    const [head, payload, sig] = short.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const altered = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: "usr_someone_else" })).toString("base64url")}.${sig}`;
    expect(await me(altered)).toBe(401);
    await eventually("the token's expiry time", () => Date.now() >= exp * 1000, 5_000);
    expect(await me(short)).toBe(401);
  });

  test("no credentials is 401 on every data route", async () => {
    for (const [method, path] of [
      ["POST", "/v1/messages"], ["POST", "/v1/messages/batch"], ["GET", "/v1/messages/x"], ["DELETE", "/v1/messages/x"],
      ["GET", "/v1/memory/search?tenant_id=a&query=b"], ["GET", "/v1/conversations?tenant_id=a"], ["POST", "/v1/conversations"],
      ["GET", "/v1/conversations/c"], ["GET", "/v1/conversations/c/messages"], ["DELETE", "/v1/conversations/c"], ["GET", "/v1/auth/me"],
    ]) {
      const res = await h.request(method, path, { body: method === "POST" ? {} : undefined });
      expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 401`);
    }
  });
});

describe("API keys", () => {
  test("read-only keys cannot write; tenant-restricted keys get 403 elsewhere; revoked and expired keys 401", async () => {
    const { token } = await h.account();
    const readOnly = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "ro", scopes: ["read"] } })).body.key;
    const tenantA = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "a", tenant_ids: ["tenant-a"] } })).body;
    const msg = { tenant_id: "tenant-a", conversation_id: "c", role: "user", content: "hi" };

    const ro = await h.json("POST", "/v1/messages", { apiKey: readOnly, body: msg });
    expect(ro.status).toBe(403);
    expect((await h.json("GET", "/v1/memory/search?tenant_id=tenant-a&query=hi", { apiKey: readOnly })).status).toBe(200);

    expect((await h.json("POST", "/v1/messages", { apiKey: tenantA.key, body: msg })).status).toBe(202);
    expect((await h.json("POST", "/v1/messages", { apiKey: tenantA.key, body: { ...msg, tenant_id: "tenant-b" } })).status).toBe(403);
    expect((await h.json("GET", "/v1/memory/search?tenant_id=tenant-b&query=hi", { apiKey: tenantA.key })).status).toBe(403);
    expect((await h.json("GET", "/v1/conversations?tenant_id=tenant-b", { apiKey: tenantA.key })).status).toBe(403);
    expect((await h.json("POST", "/v1/auth/api-keys", { apiKey: tenantA.key, body: { name: "escalate" } })).status).toBe(403);

    expect((await h.request("DELETE", `/v1/auth/api-keys/${tenantA.id}`, { token })).status).toBe(204);
    expect((await h.json("POST", "/v1/messages", { apiKey: tenantA.key, body: msg })).status).toBe(401);

    const expiring = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "exp", expires_days: 1 } })).body;
    await h.deps.redis.hset(keys.apiKey(expiring.id), "expires_at", new Date(Date.now() - 1000).toISOString());
    expect((await h.json("POST", "/v1/messages", { apiKey: expiring.key, body: msg })).status).toBe(401);
    expect((await h.json("POST", "/v1/messages", { apiKey: `${expiring.key.slice(0, -2)}xx`, body: msg })).status).toBe(401);
  });
});

describe("API key cache", () => {
  test("a revoked key stops working at once on another API instance (revocation is broadcast)", async () => {
    // Instance B trusts verified keys for a minute: only the broadcast can make it refuse quickly.
    const { createApp } = await import("../../src/app");
    const config = { ...h.deps.config, API_KEY_CACHE_MS: 60_000 };
    const depsB = await createDeps(config, { log: h.deps.log, embedder: h.deps.embedder });
    const hubB = await createRealtime(depsB, (revocation) => forgetRevoked(depsB, revocation));
    h.cleanup(() => closeDeps(depsB));
    h.cleanup(() => hubB.close());
    const appB = createApp(depsB, hubB);
    const { token } = await h.account();
    const created = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "shared" } })).body;
    const me = () => appB.handle(new Request("http://localhost/v1/conversations?tenant_id=t", { headers: { "x-api-key": created.key } }));
    expect((await me()).status).toBe(200);
    // Now cached on B: the stored key is gone from Redis but B still answers from its cache...
    const row = await h.deps.redis.hgetall(keys.apiKey(created.id));
    await h.deps.redis.del(keys.apiKey(created.id));
    expect((await me()).status).toBe(200);
    await h.deps.redis.hset(keys.apiKey(created.id), row);
    // ...until A revokes it.
    expect((await h.request("DELETE", `/v1/auth/api-keys/${created.id}`, { token })).status).toBe(204);
    await eventually("instance B refusing the revoked key", async () => (await me()).status === 401, 2_000);
  });

  test("a wrong secret for a cached key id is refused", async () => {
    const { token } = await h.account();
    const created = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "k" } })).body;
    const list = (key: string) => h.json("GET", "/v1/conversations?tenant_id=t", { apiKey: key });
    expect((await list(created.key)).status).toBe(200);
    const forged = `${created.prefix}_${"A".repeat(43)}`;
    expect((await list(forged)).status).toBe(401);
    expect((await list(created.key)).status).toBe(200);
  });
});

describe("tenant isolation between accounts", () => {
  test("two accounts using the same tenant id never see each other's data", async () => {
    const alice = await h.account("alice");
    const mallory = await h.account("mallory");
    const stored = await h.json("POST", "/v1/messages", {
      token: alice.token,
      body: { tenant_id: "my-app", conversation_id: "shared-id", role: "user", content: "alice's secret plan" },
    });
    const id = stored.body.id;
    expect((await h.json("GET", `/v1/messages/${id}`, { token: mallory.token })).status).toBe(404);
    expect((await h.request("DELETE", `/v1/messages/${id}`, { token: mallory.token })).status).toBe(404);
    expect((await h.json("GET", "/v1/conversations/shared-id", { token: mallory.token })).status).toBe(404);
    expect((await h.json("GET", "/v1/conversations/shared-id/messages", { token: mallory.token })).status).toBe(404);
    expect((await h.request("DELETE", "/v1/conversations/shared-id?tenant_id=my-app", { token: mallory.token })).status).toBe(404);
    const list = await h.json("GET", "/v1/conversations?tenant_id=my-app", { token: mallory.token });
    expect(list.body).toEqual({ conversations: [], total: 0, limit: 20, offset: 0 });
    const search = await h.json("GET", "/v1/memory/search?tenant_id=my-app&query=secret%20plan", { token: mallory.token });
    expect(search.body).toEqual({ results: [] });
    // A message id chosen by mallory equal to alice's is stored in mallory's own space.
    const mine = await h.json("POST", "/v1/messages", {
      token: mallory.token,
      body: { id, tenant_id: "my-app", conversation_id: "shared-id", role: "user", content: "mallory's note" },
    });
    expect(mine.status).toBe(202);
    expect((await h.json("GET", `/v1/messages/${id}`, { token: alice.token })).body.content).toBe("alice's secret plan");
  });
});

describe("rate limits", () => {
  test("over the limit is 429 with Retry-After, shared by two app instances on one Redis", async () => {
    const { createApp } = await import("../../src/app");
    const limited = { ...h.deps, config: { ...h.deps.config, RATE_LIMIT_REQUESTS: 5, RATE_LIMIT_WINDOW_S: WINDOW_S } };
    const appA = createApp(limited);
    const appB = createApp(limited);
    const { token } = await h.account();
    const get = (app: typeof appA) => app.handle(new Request("http://localhost/v1/auth/me", { headers: { authorization: `Bearer ${token}` } }));
    const end = await freshWindow(WINDOW_S);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(appA)).status, (await get(appB)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // A refused request is not counted, so a later one is refused the same way.
    const res = await expectRetryUntil(end, () => get(appA));
    const retryAfter = res.headers.get("retry-after");
    expect(res.headers.get("ratelimit-remaining")).toBe("0");
    expect(res.headers.get("ratelimit-reset")).toBe(retryAfter);
    expect(await res.json()).toMatchObject({ code: "rate_limited", details: { retry_after: Number(retryAfter) } });
  });

  test("message writes charge the limit in the accept script: 429 stores nothing; refused requests and batches count", async () => {
    const { createApp } = await import("../../src/app");
    const limited = { ...h.deps, config: { ...h.deps.config, RATE_LIMIT_REQUESTS: 5, RATE_LIMIT_WINDOW_S: WINDOW_S, RATE_LIMIT_BATCH_UNIT: 2, MAX_CONTENT_CHARS: 100 } };
    const app = createApp(limited);
    const { token, userId } = await h.account();
    const post = (path: string, body: unknown) =>
      app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }));
    const msg = (content: string) => ({ tenant_id: "rl", conversation_id: "c", role: "user", content });
    const end = await freshWindow(WINDOW_S);
    const used = async () => Number(await h.deps.redis.get(callerCharge(limited, { account: userId, kind: "user", scopes: ["read", "write"], tenants: null }).key));

    const first = await post("/v1/messages", msg("one"));
    expect(first.status).toBe(202);
    expect(first.headers.get("ratelimit-limit")).toBe("5");
    expect(first.headers.get("ratelimit-remaining")).toBe("4");
    // Refused before the accept script (schema, configured limit): charged all the same, without
    // the response waiting for it, so wait for the count to land.
    expect((await post("/v1/messages", { tenant_id: "rl" })).status).toBe(400);
    expect((await post("/v1/messages", msg("x".repeat(101)))).status).toBe(400);
    await eventually("both refused requests charged", async () => (await used()) === 3);
    // A batch of 2 costs 1 + floor(2 / 2) = 2: exactly what is left.
    const batch = await post("/v1/messages/batch", { messages: [msg("two"), msg("three")] });
    expect(batch.status).toBe(202);
    expect(batch.headers.get("ratelimit-remaining")).toBe("0");
    const refused = await expectRetryUntil(end, () => post("/v1/messages", msg("four")));
    expect(await refused.json()).toMatchObject({ code: "rate_limited" });
    expect(await used()).toBe(5);
    const history = await h.json("GET", "/v1/conversations/c/messages?tenant_id=rl", { token });
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(["one", "two", "three"]);
  });

  test("login is limited tightly per address and loosely per email: a guesser does not lock the owner out", async () => {
    const { createApp } = await import("../../src/app");
    const app = createApp({ ...h.deps, config: { ...h.deps.config, AUTH_RATE_LIMIT: 3, AUTH_EMAIL_RATE_LIMIT: 5, AUTH_RATE_WINDOW_S: WINDOW_S, TRUST_PROXY: true } });
    const attempt = (ip: string, email: string) =>
      app.handle(
        new Request("http://localhost/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": ip },
          body: JSON.stringify({ email, password: "guess12345" }),
        }),
      );
    const end = await freshWindow(WINDOW_S);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt("203.0.113.7", "victim@example.com")).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    await expectRetryUntil(end, () => attempt("203.0.113.7", "other@example.com"));
    // The owner, from another address, is not locked out by the guesser...
    expect((await attempt("198.51.100.9", "victim@example.com")).status).toBe(401);
    expect((await attempt("198.51.100.10", "victim@example.com")).status).toBe(401);
    // ...but guessing from many addresses meets the per-email limit (5 counted so far: 3 + 2; refused ones are not counted)
    expect((await attempt("198.51.100.11", "victim@example.com")).status).toBe(429);
    expect((await attempt("198.51.100.12", "fresh@example.com")).status).toBe(401);
  });

  test("behind a proxy the address is the one the proxy appended: a client rotating X-Forwarded-For gains nothing", async () => {
    const { createApp } = await import("../../src/app");
    const login = (app: ReturnType<typeof createApp>, forwarded: string, email: string) =>
      app.handle(
        new Request("http://localhost/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": forwarded },
          body: JSON.stringify({ email, password: "guess12345" }),
        }),
      );
    const behind = (hops: number) => createApp({ ...h.deps, config: { ...h.deps.config, AUTH_RATE_LIMIT: 3, AUTH_RATE_WINDOW_S: WINDOW_S, TRUST_PROXY: true, TRUST_PROXY_HOPS: hops } });
    await freshWindow(WINDOW_S);
    const oneHop = behind(1);
    const statuses = [];
    // each attempt claims another origin and uses another email: only the proxy-appended address counts
    for (let i = 0; i < 4; i++) statuses.push((await login(oneHop, `10.0.0.${i}, 192.0.2.44`, `rotating${i}@example.com`)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // two proxies of ours: the client is the second entry from the right
    const twoHops = behind(2);
    const second = [];
    for (let i = 0; i < 4; i++) second.push((await login(twoHops, `10.9.9.${i}, 192.0.2.55, 198.51.100.1`, `hop${i}@example.com`)).status);
    expect(second).toEqual([401, 401, 401, 429]);
  });
});

describe("API key cap", () => {
  test("an account holds at most MAX_API_KEYS_PER_USER keys; revoking one makes room", async () => {
    const { createApp } = await import("../../src/app");
    const app = createApp({ ...h.deps, config: { ...h.deps.config, MAX_API_KEYS_PER_USER: 2 } });
    const { token } = await h.account();
    const create = async (name: string) => {
      const res = await app.handle(
        new Request("http://localhost/v1/auth/api-keys", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ name }),
        }),
      );
      return { status: res.status, body: (await res.json()) as { id: string; code?: string; details?: unknown } };
    };
    const first = await create("one");
    expect(first.status).toBe(201);
    expect((await create("two")).status).toBe(201);
    const third = await create("three");
    expect(third.status).toBe(409);
    expect(third.body).toMatchObject({ code: "api_key_limit", details: { limit: 2 } });
    const revoke = await app.handle(new Request(`http://localhost/v1/auth/api-keys/${first.body.id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } }));
    expect(revoke.status).toBe(204);
    expect((await create("three again")).status).toBe(201);
  });
});
