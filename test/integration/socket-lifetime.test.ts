import { beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { createApp } from "../../src/app";
import { DEV_JWT_SECRET } from "../../src/config";
import { CLOSE_CODES } from "../../src/realtime/model";
import { keys } from "../../src/store/keys";
import { eventually, useHarness } from "../helpers/app";
import { type Listener, listen } from "../helpers/processes";

/** A socket lives no longer than the credential that opened it (revoked, expired, account deleted). */
const h = useHarness({ EMBED_BATCH_WAIT_MS: "10" }, { realtime: true, worker: true });
let base: string;

beforeAll(() => {
  const server = createApp(h.deps, h.realtime).listen({ port: 0, hostname: "127.0.0.1" });
  base = `127.0.0.1:${server.server?.port}`;
  h.cleanup(() => server.stop(true));
});

const open = (tenant: string, headers: Record<string, string>) => listen(base, `/ws/messages/${tenant}`, headers);
const closedWith = (s: Listener) => eventually("socket closed", () => s.closed, 10_000);
const store = (token: string, tenant: string, content: string) =>
  h.json("POST", "/v1/messages", { token, body: { tenant_id: tenant, conversation_id: "c1", role: "user", content } });

describe("WebSocket lifetime", () => {
  test("revoking an API key closes the sockets it opened (4002) and no other", async () => {
    const { token } = await h.account();
    const [doomed, kept] = await Promise.all(
      ["doomed", "kept"].map(async (name) => (await h.json("POST", "/v1/auth/api-keys", { token, body: { name } })).body),
    );
    const byDoomed = await open("t", { "x-api-key": doomed.key });
    const byKept = await open("t", { "x-api-key": kept.key });
    const byToken = await open("t", { authorization: `Bearer ${token}` });
    expect((await h.request("DELETE", `/v1/auth/api-keys/${doomed.id}`, { token })).status).toBe(204);
    expect(await closedWith(byDoomed)).toEqual({ code: CLOSE_CODES.revoked, reason: "API key revoked" });
    // The others still receive the tenant's events.
    const after = await store(token, "t", "written after the revocation");
    for (const s of [byKept, byToken]) await eventually("event after revocation", () => s.events.some((e) => e.message.id === after.body.id));
    expect(byKept.closed).toBeUndefined();
    expect(byToken.closed).toBeUndefined();
    expect(byDoomed.events.some((e) => e.message.id === after.body.id)).toBe(false);
    byKept.socket.close();
    byToken.socket.close();
  });

  test("a socket closes when the access token that opened it expires (4001)", async () => {
    const { userId } = await h.account();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const shortLived = await new SignJWT({ typ: "access", jti: "short" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(DEV_JWT_SECRET));
    const s = await open("t", { authorization: `Bearer ${shortLived}` });
    expect(await closedWith(s)).toEqual({ code: CLOSE_CODES.expired, reason: "credential expired" });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
  });

  test("a socket opened with an API key closes when the key expires (4001)", async () => {
    const { token } = await h.account();
    const created = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "k" } })).body;
    // Keys expire in days; bring this one's expiry to two seconds from now.
    const expiresAt = Date.now() + 2000;
    await h.deps.redis.hset(keys.apiKey(created.id), "expires_at", new Date(expiresAt).toISOString());
    const s = await open("t", { "x-api-key": created.key });
    expect(await closedWith(s)).toEqual({ code: CLOSE_CODES.expired, reason: "credential expired" });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
  });
});

describe("deleting an account", () => {
  test("needs the password and the user's own token", async () => {
    const { token } = await h.account();
    const key = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "k" } })).body.key;
    const wrong = await h.json("DELETE", "/v1/auth/me", { token, body: { password: "NotThePassword1" } });
    expect(wrong).toMatchObject({ status: 401, body: { code: "unauthorized", message: "Wrong password (401)" } });
    const byKey = await h.json("DELETE", "/v1/auth/me", { apiKey: key, body: { password: "SecurePass123" } });
    expect(byKey.status).toBe(403);
    expect((await h.json("DELETE", "/v1/auth/me", { token })).status).toBe(400);
    expect((await h.json("GET", "/v1/auth/me", { token })).status).toBe(200);
  });

  test("erases its data and credentials, closes its sockets (4003), and leaves other accounts alone", async () => {
    const doomed = await h.account("doomed");
    const other = await h.account("other");
    const key = (await h.json("POST", "/v1/auth/api-keys", { token: doomed.token, body: { name: "k" } })).body.key;
    const stored = await store(doomed.token, "t", "a memory to be forgotten");
    const kept = await store(other.token, "t", "a memory that stays");
    await eventually("both indexed", async () => {
      const a = await h.json("GET", `/v1/messages/${stored.body.id}`, { token: doomed.token });
      const b = await h.json("GET", `/v1/messages/${kept.body.id}`, { token: other.token });
      return a.body.status === "indexed" && b.body.status === "indexed";
    });
    const byToken = await open("t", { authorization: `Bearer ${doomed.token}` });
    const byKey = await open("t", { "x-api-key": key });
    const bystander = await open("t", { authorization: `Bearer ${other.token}` });

    const deleted = await h.request("DELETE", "/v1/auth/me", { token: doomed.token, body: { password: "SecurePass123" } });
    expect(deleted.status).toBe(204);
    for (const s of [byToken, byKey]) expect(await closedWith(s)).toMatchObject({ code: CLOSE_CODES.accountDeleted });

    // Every credential is dead, cached or not.
    expect((await h.json("GET", "/v1/auth/me", { token: doomed.token })).status).toBe(401);
    expect((await h.json("GET", "/v1/conversations?tenant_id=t", { apiKey: key })).status).toBe(401);
    expect((await h.json("POST", "/v1/auth/refresh", { body: { refresh_token: doomed.refresh } })).status).toBe(401);
    expect((await h.json("POST", "/v1/auth/login", { body: { email: doomed.email, password: "SecurePass123" } })).status).toBe(401);

    // No key names the account any more; the other account's data is all there.
    const left: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await h.deps.redis.scan(cursor, "MATCH", "*", "COUNT", 1000);
      cursor = next;
      left.push(...found.filter((k) => k.includes(doomed.userId)));
    } while (cursor !== "0");
    expect(left).toEqual([]);
    expect((await h.deps.redis.zrange(keys.outboxOf(doomed.userId), "0", "-1")).filter((m) => m.includes(doomed.userId))).toEqual([]);
    const search = await h.json("GET", "/v1/memory/search?tenant_id=t&query=a%20memory%20that%20stays", { token: other.token });
    expect(search.body.results.map((r: { id: string }) => r.id)).toEqual([kept.body.id]);
    expect(bystander.closed).toBeUndefined();
    bystander.socket.close();

    // The email and username are free again.
    const again = await h.json("POST", "/v1/auth/register", { body: { email: doomed.email, username: doomed.email.split("@")[0], password: "SecurePass123" } });
    expect(again.status).toBe(201);
  });
});
