import { beforeAll, describe, expect, test } from "bun:test";
import { useHarness } from "../../../test/helpers/app";
import { MemoryMeshClient, MemoryMeshError, type Tokens } from "../src/index";
import { failure, listen, PASSWORD, recordingFetch } from "./support";

/** The client's accounts, tokens and API keys against the real server on a real port. */
const h = useHarness();
let base = "";

beforeAll(() => {
  base = listen(h.app);
  h.cleanup(() => h.app.stop(true));
});

let counter = 0;
const newUser = () => {
  const name = `client${process.pid}x${++counter}`;
  return { email: `${name}@example.com`, username: name, password: PASSWORD };
};

/** A client holding a fresh account's tokens, and what its fetch saw. */
async function withTokens(options: { onTokens?: (tokens: Tokens) => void } = {}) {
  const account = await h.account("tokens");
  const recorder = recordingFetch();
  const client = new MemoryMeshClient({ baseUrl: base, accessToken: account.token, refreshToken: account.refresh, fetch: recorder.fetch, ...options });
  return { client, account, ...recorder };
}

describe("accounts and tokens", () => {
  test("register, login (tokens kept and reported), me, refresh (rotated), logout", async () => {
    const user = newUser();
    const reported: Tokens[] = [];
    const client = new MemoryMeshClient({ baseUrl: base, onTokens: (tokens) => reported.push(tokens) });
    const registered = await client.auth.register(user);
    expect(registered).toEqual({ id: expect.any(String), email: user.email, username: user.username, created_at: expect.any(String) });

    const tokens = await client.auth.login({ email: user.email, password: user.password });
    expect(tokens).toEqual({ access_token: expect.any(String), refresh_token: expect.stringMatching(/^rt_/), token_type: "bearer", expires_in: 900 });
    expect(reported).toEqual([tokens]);
    expect(client.auth.tokens).toEqual({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
    expect(await client.auth.me()).toEqual(registered);

    const rotated = await client.auth.refresh();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(client.auth.tokens).toEqual({ accessToken: rotated.access_token, refreshToken: rotated.refresh_token });
    expect(reported).toEqual([tokens, rotated]);
    // The spent refresh token is refused by the server (and sending it revokes the login: the client never does).
    const spent = await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: tokens.refresh_token } });
    expect(spent.status).toBe(401);

    const other = await MemoryMeshClient.login({ baseUrl: base, email: user.email, password: user.password });
    expect((await other.auth.me()).id).toBe(registered.id);
    const otherRefresh = other.auth.tokens.refreshToken as string;
    await other.auth.logout();
    expect(other.auth.tokens).toEqual({ accessToken: undefined, refreshToken: undefined });
    expect((await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: otherRefresh } })).status).toBe(401);
    const loggedOut = await failure(other.auth.me());
    expect({ status: loggedOut.status, code: loggedOut.code }).toEqual({ status: 401, code: "unauthorized" });
  });

  test("a 401 renews the access token with the refresh token once, and the call succeeds", async () => {
    const reported: Tokens[] = [];
    const { client, account, lines } = await withTokens({ onTokens: (tokens) => reported.push(tokens) });
    // An access token the server no longer accepts, as an expired one would be.
    client.auth.setTokens({ accessToken: `${account.token}x`, refreshToken: account.refresh });
    expect((await client.auth.me()).email).toBe(account.email);
    expect(lines()).toEqual(["GET /v1/auth/me 401", "POST /v1/auth/refresh 200", "GET /v1/auth/me 200"]);
    expect(reported).toHaveLength(1);
    expect(client.auth.tokens).toEqual({ accessToken: reported[0].access_token, refreshToken: reported[0].refresh_token });
    expect(reported[0].refresh_token).not.toBe(account.refresh);
  });

  test("given only a refresh token, the client gets an access token before its first call", async () => {
    const account = await h.account("refresh-only");
    const recorder = recordingFetch();
    const client = new MemoryMeshClient({ baseUrl: base, refreshToken: account.refresh, fetch: recorder.fetch });
    expect((await client.auth.me()).email).toBe(account.email);
    expect(recorder.lines()).toEqual(["POST /v1/auth/refresh 200", "GET /v1/auth/me 200"]);
  });

  test("concurrent calls meeting a 401 share one refresh", async () => {
    const { client, account, lines } = await withTokens();
    client.auth.setTokens({ accessToken: `${account.token}x`, refreshToken: account.refresh });
    const answers = await Promise.all([
      client.auth.me(),
      client.tenants.list(),
      client.conversations.list({ tenant_id: "t" }),
      client.messages.list({ tenant_id: "t" }),
      client.auth.apiKeys.list(),
      client.tenants.get("t"),
    ]);
    expect(answers).toHaveLength(6);
    const refreshes = lines().filter((line) => line.startsWith("POST /v1/auth/refresh"));
    expect(refreshes).toEqual(["POST /v1/auth/refresh 200"]);
    expect(lines().filter((line) => line.endsWith(" 401")).length).toBeGreaterThanOrEqual(1);
    // The login is intact: a family revoked by a reused refresh token would refuse this.
    expect(client.auth.tokens.refreshToken).not.toBe(account.refresh);
    await client.auth.refresh();
    expect((await client.auth.me()).email).toBe(account.email);
  });

  test("when the refresh fails its 401 surfaces, after one attempt", async () => {
    const { client, account, lines } = await withTokens();
    await h.json("POST", "/v1/auth/logout", { body: { refresh_token: account.refresh } });
    client.auth.setTokens({ accessToken: `${account.token}x`, refreshToken: account.refresh });
    const error = await failure(client.auth.me());
    expect({ status: error.status, code: error.code, message: error.message }).toEqual({ status: 401, code: "unauthorized", message: "Refresh token was revoked (401)" });
    expect(lines()).toEqual(["GET /v1/auth/me 401", "POST /v1/auth/refresh 401"]);
  });

  test("with email and password: logs in on the first call, and again when the refresh token no longer works", async () => {
    const user = newUser();
    await new MemoryMeshClient({ baseUrl: base }).auth.register(user);
    const recorder = recordingFetch();
    const client = new MemoryMeshClient({ baseUrl: base, email: user.email, password: user.password, fetch: recorder.fetch });
    expect((await client.auth.me()).email).toBe(user.email);
    expect(recorder.lines()).toEqual(["POST /v1/auth/login 200", "GET /v1/auth/me 200"]);

    const { refreshToken } = client.auth.tokens;
    await h.json("POST", "/v1/auth/logout", { body: { refresh_token: refreshToken } });
    client.auth.setTokens({ accessToken: "not-a-token", refreshToken });
    expect((await client.auth.me()).email).toBe(user.email);
    expect(recorder.lines().slice(2)).toEqual(["GET /v1/auth/me 401", "POST /v1/auth/refresh 401", "POST /v1/auth/login 200", "GET /v1/auth/me 200"]);
  });

  test("API keys: create, list, use (x-api-key), revoke; a 401 with an API key is reported at once", async () => {
    const { client } = await withTokens();
    const created = await client.auth.apiKeys.create({ name: "backend", tenant_ids: ["app"], scopes: ["read", "write"] });
    expect(created).toEqual({
      id: expect.any(String),
      name: "backend",
      key: expect.stringMatching(/^mm_/),
      prefix: expect.stringMatching(/^mm_/),
      scopes: ["read", "write"],
      tenant_ids: ["app"],
      created_at: expect.any(String),
      expires_at: null,
    });
    const { api_keys } = await client.auth.apiKeys.list();
    expect(api_keys).toEqual([{ ...created, key: undefined, last_used_at: null }].map(({ key: _, ...rest }) => rest));

    const recorder = recordingFetch();
    const keyed = new MemoryMeshClient({ baseUrl: base, apiKey: created.key, fetch: recorder.fetch });
    const stored = await keyed.messages.store({ tenant_id: "app", conversation_id: "c", role: "user", content: "stored with an API key" });
    expect(stored.tenant_id).toBe("app");
    expect(recorder.seen[0].authorization).toBeNull();
    const refused = await failure(keyed.tenants.get("other"));
    expect({ status: refused.status, code: refused.code }).toEqual({ status: 403, code: "forbidden" });
    const noKeys = await failure(keyed.auth.apiKeys.list());
    expect(noKeys.status).toBe(403);

    await client.auth.apiKeys.revoke(created.id);
    expect((await client.auth.apiKeys.list()).api_keys).toEqual([]);
    recorder.seen.length = 0;
    const revoked = await failure(keyed.auth.me());
    expect({ status: revoked.status, code: revoked.code }).toEqual({ status: 401, code: "unauthorized" });
    expect(recorder.lines()).toEqual(["GET /v1/auth/me 401"]);
  });

  test("delete account: the password confirms it; the client forgets its tokens", async () => {
    const user = newUser();
    const client = new MemoryMeshClient({ baseUrl: base });
    await client.auth.register(user);
    await client.auth.login({ email: user.email, password: user.password });
    const { refreshToken } = client.auth.tokens;
    const wrong = await failure(client.auth.deleteAccount({ password: "WrongPass999" }));
    expect(wrong.status).toBe(401);
    await client.auth.deleteAccount({ password: user.password });
    expect(client.auth.tokens).toEqual({ accessToken: undefined, refreshToken: undefined });
    expect((await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: refreshToken } })).status).toBe(401);
    expect((await h.json("POST", "/v1/auth/login", { body: { email: user.email, password: user.password } })).status).toBe(401);
  });
});

describe("errors", () => {
  test("the server's error body and request id; other 4xx are never retried", async () => {
    const { client, lines, seen } = await withTokens();
    const invalid = await failure(client.messages.store({ tenant_id: "t", conversation_id: "c", role: "user", content: "" }));
    expect(invalid).toBeInstanceOf(MemoryMeshError);
    expect(invalid).toMatchObject({ name: "MemoryMeshError", status: 400, code: "validation_error", details: [{ field: "content", message: expect.any(String) }] });
    expect(invalid.requestId).toMatch(/^[A-Za-z0-9._-]{8,}$/);

    const missing = await failure(client.messages.get("no-such-message"));
    expect({ status: missing.status, code: missing.code, message: missing.message }).toEqual({ status: 404, code: "not_found", message: "Message not found" });

    const key = crypto.randomUUID();
    await client.messages.store({ tenant_id: "t", conversation_id: "c", role: "user", content: "first" }, { idempotencyKey: key });
    const conflict = await failure(client.messages.store({ tenant_id: "t", conversation_id: "c", role: "user", content: "different" }, { idempotencyKey: key }));
    expect({ status: conflict.status, code: conflict.code }).toEqual({ status: 409, code: "idempotency_conflict" });

    expect(lines()).toEqual(["POST /v1/messages 400", "GET /v1/messages/no-such-message 404", "POST /v1/messages 202", "POST /v1/messages 409"]);
    expect(seen.map((s) => s.idempotencyKey)).toEqual([expect.any(String), null, key, key]);
  });
});
