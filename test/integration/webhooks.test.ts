import { describe, expect, test } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { createApp } from "../../src/app";
import { checkTarget, isPrivateAddress, post, type Target } from "../../src/webhooks/target";
import { eventually, useHarness } from "../helpers/app";
import { type Receiver, startReceiver } from "../helpers/receiver";

// Short retry schedule and failure limit, so retries and disabling happen within a test.
const ENV = { EMBED_BATCH_WAIT_MS: "10", WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_RETRY_SCHEDULE_MS: "100,200,300,300,300,300,300,300", WEBHOOK_DISABLE_AFTER_FAILURES: "2", WEBHOOK_TIMEOUT_MS: "2000" };
const h = useHarness(ENV, { worker: true });

function receiver(): Receiver {
  const r = startReceiver();
  h.cleanup(() => r.stop());
  return r;
}

async function endpoint(token: string, url: string, events: string[], extra: Record<string, unknown> = {}) {
  const res = await h.json("POST", "/v1/webhooks", { token, body: { url, events, ...extra } });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return res.body as { id: string; secret: string };
}

const store = async (token: string, content: string, tenant = "t") =>
  (await h.json("POST", "/v1/messages", { token, body: { tenant_id: tenant, conversation_id: "c", role: "user", content } })).body as { id: string };

/** The deliveries of an event type, verified with `standardwebhooks` (an independent implementation). */
function verified(r: Receiver, secret: string, type: string) {
  const verifier = new StandardWebhook(secret);
  return r.received.filter((x) => x.type === type).map((x) => ({ ...x, payload: verifier.verify(x.body, x.headers) as { type: string; data: any } }));
}

describe("webhooks", () => {
  test("events are delivered signed per Standard Webhooks: verified by an independent implementation", async () => {
    const { token } = await h.account();
    const r = receiver();
    const hook = await endpoint(token, r.url, ["message.created", "message.indexed", "message.deleted"]);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const m = await store(token, "the invoice is due on Friday");
    await eventually("created and indexed delivered", () => verified(r, hook.secret, "message.indexed").length === 1 && verified(r, hook.secret, "message.created").length === 1);
    const [indexed] = verified(r, hook.secret, "message.indexed");
    expect(indexed.payload as unknown).toEqual({ type: "message.indexed", timestamp: expect.any(String), data: { tenant_id: "t", conversation_id: "c", message: expect.objectContaining({ id: m.id, status: "indexed" }) } });
    expect(indexed.id).toMatch(/^evt_/);
    expect(() => new StandardWebhook(`whsec_${Buffer.alloc(24, 1).toString("base64")}`).verify(indexed.body, indexed.headers)).toThrow();
    await h.json("DELETE", `/v1/messages/${m.id}`, { token });
    await eventually("deleted delivered", () => verified(r, hook.secret, "message.deleted").length === 1);
    expect(verified(r, hook.secret, "message.deleted")[0].payload.data.reason).toBe("deleted");
    // The log: each delivery once, succeeded, with the receiver's answer.
    const log = await h.json("GET", `/v1/webhooks/${hook.id}/deliveries`, { token });
    expect(log.body.deliveries.map((d: { event_type: string; status: string; response_status: number }) => [d.event_type, d.status, d.response_status])).toEqual([
      ["message.deleted", "succeeded", 204], ["message.indexed", "succeeded", 204], ["message.created", "succeeded", 204],
    ]);
    // The secret is never shown again, nor stored in clear.
    const listed = await h.json("GET", "/v1/webhooks", { token });
    expect(JSON.stringify(listed.body)).not.toContain(hook.secret.slice(6));
    const dump = JSON.stringify(await h.deps.redis.hgetall(`${(await h.deps.redis.keys(`*:webhook:*:${hook.id}`))[0]}`));
    expect(dump).not.toContain(hook.secret.slice(6));
  });

  test("a receiver down for a while, then up, gets every event exactly once by webhook-id", async () => {
    const { token } = await h.account();
    const r = receiver();
    let down = true;
    const answered: string[] = [];
    r.answer = (x) => {
      if (down) return new Response("down", { status: 503 });
      answered.push(x.id);
      return new Response("ok");
    };
    const hook = await endpoint(token, r.url, ["message.created"]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store(token, `message ${i}`)).id);
    const attemptsOf = (id: string) => r.received.filter((x) => x.id === id).length;
    await eventually("each event tried at least twice while down", () => new Set(r.received.map((x) => x.id)).size === 5 && r.received.every((x) => attemptsOf(x.id) >= 2));
    down = false;
    await eventually("all five delivered", () => new Set(answered).size === 5, 30_000);
    // Each webhook-id answered 2xx once; its attempts all carried the same event; every message came through.
    expect(answered.length).toBe(5);
    const messagesOf = new Map<string, Set<string>>();
    for (const x of r.received) messagesOf.set(x.id, (messagesOf.get(x.id) ?? new Set()).add(x.data.message.id));
    expect([...messagesOf.values()].every((m) => m.size === 1)).toBe(true);
    expect(new Set([...messagesOf.values()].map((m) => [...m][0]))).toEqual(new Set(ids));
    const log = await h.json("GET", `/v1/webhooks/${hook.id}/deliveries`, { token });
    expect(log.body.deliveries.map((d: { status: string }) => d.status)).toEqual(Array(5).fill("succeeded"));
    expect(log.body.deliveries.every((d: { attempts: number }) => d.attempts >= 2)).toBe(true);
    expect((await h.json("GET", `/v1/webhooks/${hook.id}`, { token })).body).toMatchObject({ enabled: true, consecutive_failures: 0 });
  }, 60_000);

  test("410 disables the endpoint; deliveries failing after every retry disable it and tell the account's other endpoints", async () => {
    const { token } = await h.account();
    const gone = receiver();
    gone.answer = () => new Response(null, { status: 410 });
    const failing = receiver();
    failing.answer = () => new Response("no", { status: 500 });
    const watcher = receiver();
    const a = await endpoint(token, gone.url, ["message.created"]);
    const b = await endpoint(token, failing.url, ["message.created"]);
    const w = await endpoint(token, watcher.url, ["webhook.disabled"]);
    await store(token, "hello");
    await store(token, "hello again");
    await eventually("410 endpoint disabled", async () => (await h.json("GET", `/v1/webhooks/${a.id}`, { token })).body.enabled === false);
    expect((await h.json("GET", `/v1/webhooks/${a.id}`, { token })).body.disabled_reason).toBe("the receiver answered 410 Gone");
    // Two deliveries, each tried 9 times (the first attempt and 8 retries), both failing for good: disabled.
    await eventually("failing endpoint disabled", async () => (await h.json("GET", `/v1/webhooks/${b.id}`, { token })).body.enabled === false, 30_000);
    expect(failing.received.length).toBe(18);
    expect(new Set(failing.received.map((x) => x.id)).size).toBe(2);
    await eventually("webhook.disabled delivered to the watcher", () => verified(watcher, w.secret, "webhook.disabled").length === 2);
    expect(verified(watcher, w.secret, "webhook.disabled").map((x) => x.payload.data.webhook_id).sort()).toEqual([a.id, b.id].sort());
    // Enabled again, it receives new events.
    failing.answer = () => new Response("ok");
    expect((await h.json("PATCH", `/v1/webhooks/${b.id}`, { token, body: { enabled: true } })).body).toMatchObject({ enabled: true, disabled_reason: null, consecutive_failures: 0 });
    await store(token, "again");
    await eventually("delivered after re-enabling", () => failing.received.some((x) => x.data?.message?.content === "again"));
  }, 60_000);

  test("rotation: both signatures during the grace period, each verifies with its own secret", async () => {
    const { token } = await h.account();
    const r = receiver();
    const hook = await endpoint(token, r.url, ["message.created"]);
    const rotated = await h.json("POST", `/v1/webhooks/${hook.id}/rotate-secret`, { token });
    expect(rotated.body).toEqual({ secret: expect.stringMatching(/^whsec_/), previous_valid_until: expect.any(String) });
    await store(token, "after rotation");
    await eventually("delivered", () => r.received.length === 1);
    expect(r.received[0].signature.split(" ")).toHaveLength(2);
    expect(verified(r, hook.secret, "message.created")).toHaveLength(1);
    expect(verified(r, rotated.body.secret, "message.created")).toHaveLength(1);
  });

  test("test events, retry from the log, tenant filters; an account never receives another account's events", async () => {
    const mine = await h.account();
    const theirs = await h.account();
    const r = receiver();
    const hook = await endpoint(mine.token, r.url, ["message.created"], { tenant_ids: ["a"] });
    await store(theirs.token, "someone else's message", "a");
    await store(mine.token, "tenant b is not subscribed", "b");
    await store(mine.token, "tenant a is", "a");
    const tested = await h.json("POST", `/v1/webhooks/${hook.id}/test`, { token: mine.token });
    expect(tested.status).toBe(202);
    await eventually("the test and tenant a's event", () => r.received.length === 2);
    expect(r.received.map((x) => x.type).sort()).toEqual(["message.created", "webhook.test"]);
    expect(r.received.find((x) => x.type === "message.created")?.data.message.content).toBe("tenant a is");
    const retried = await h.json("POST", `/v1/webhooks/${hook.id}/deliveries/${tested.body.id}/retry`, { token: mine.token });
    expect(retried.status).toBe(202);
    await eventually("the same webhook-id again", () => r.received.filter((x) => x.id === tested.body.id).length === 2);
    expect((await h.json("GET", `/v1/webhooks/${hook.id}`, { token: theirs.token })).status).toBe(404);
    expect((await h.json("GET", `/v1/webhooks/${hook.id}/deliveries`, { token: theirs.token })).status).toBe(404);
  });

  test("a redirect is never followed: the loopback target it names gets nothing", async () => {
    const { token } = await h.account();
    const target = receiver();
    const redirecting = receiver();
    redirecting.answer = () => new Response(null, { status: 302, headers: { location: target.url } });
    const hook = await endpoint(token, redirecting.url, ["message.created"]);
    await store(token, "x");
    await eventually("tried", async () => (await h.json("GET", `/v1/webhooks/${hook.id}/deliveries`, { token })).body.deliveries[0]?.error === "redirect (302) not followed");
    expect(target.received).toEqual([]);
  });

  test("bad input: URL schemes, unknown events, limits", async () => {
    const { token } = await h.account();
    for (const body of [{ url: "ftp://example.com/x", events: ["message.created"] }, { url: "https://example.com/x", events: ["message.exploded"] }, { url: "https://example.com/x", events: [] }, { url: "https://user:pw@example.com/x", events: ["message.created"] }]) {
      const res = await h.json("POST", "/v1/webhooks", { token, body });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    const readOnly = (await h.json("POST", "/v1/auth/api-keys", { token, body: { name: "ro", scopes: ["read"] } })).body.key;
    expect((await h.json("POST", "/v1/webhooks", { apiKey: readOnly, body: { url: "https://example.com/x", events: ["message.created"] } })).status).toBe(403);
  });
});

describe("webhook targets (SSRF)", () => {
  test("private, loopback, link-local and other non-public addresses are refused, IPv6 included", () => {
    for (const address of ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"]) {
      expect({ address, refused: isPrivateAddress(address) }).toEqual({ address, refused: true });
    }
    for (const address of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111"]) expect({ address, refused: isPrivateAddress(address) }).toEqual({ address, refused: false });
  });

  test("without WEBHOOK_ALLOW_PRIVATE, an endpoint on loopback (by IP or by a name that resolves to it) is refused at creation", async () => {
    const strict = createApp({ ...h.deps, config: { ...h.deps.config, WEBHOOK_ALLOW_PRIVATE: false } });
    const { token } = await h.account();
    for (const url of ["http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://localhost:9/hook", "http://169.254.169.254/latest", "http://10.1.2.3/x"]) {
      const res = await strict.handle(new Request("http://localhost/v1/webhooks", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ url, events: ["message.created"] }) }));
      const body = await res.json();
      expect({ url, status: res.status, code: body.code }).toEqual({ url, status: 400, code: "invalid_webhook_url" });
    }
    await expect(checkTarget("http://localhost:9/", false)).rejects.toThrow(/private, loopback or link-local/);
  });

  test("a host name is resolved once per delivery and the delivery connects to the address checked (DNS rebinding)", async () => {
    // A resolver that answers a public address first and a private one afterwards, as a rebinding attacker's would.
    const answers = [["203.0.113.7"], ["127.0.0.1"]];
    let asked = 0;
    const target = await checkTarget("https://hooks.example.test/in", false, async () => answers[Math.min(asked++, 1)]);
    expect({ asked, address: target.address, host: target.url.hostname }).toEqual({ asked: 1, address: "203.0.113.7", host: "hooks.example.test" });
    await expect(checkTarget("http://hooks.example.test/in", false, async () => ["203.0.113.7", "10.0.0.5"])).rejects.toThrow(/10\.0\.0\.5/);
    await expect(checkTarget("http://hooks.example.test/in", false, async () => [])).rejects.toThrow(/does not resolve/);
  });

  test("a pinned delivery reaches the checked address with the name kept in Host and in the TLS check", async () => {
    const seen: string[] = [];
    const answer = (request: Request) => {
      seen.push(request.headers.get("host") ?? "");
      return new Response("ok");
    };
    const cert = await Bun.file(new URL("../fixtures/webhook-tls.crt", import.meta.url)).text();
    const key = await Bun.file(new URL("../fixtures/webhook-tls.key", import.meta.url)).text();
    const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: answer });
    const tls = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, fetch: answer });
    try {
      const init = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };
      // hooks.example.test resolves nowhere: reaching the receiver proves the connection went to the pinned address.
      const http: Target = { url: new URL(`http://hooks.example.test:${plain.port}/in`), address: "127.0.0.1" };
      expect((await post(http, init)).status).toBe(200);
      const https: Target = { url: new URL(`https://hooks.example.test:${tls.port}/in`), address: "127.0.0.1" };
      expect((await post(https, init, { ca: cert })).status).toBe(200);
      expect(seen).toEqual([`hooks.example.test:${plain.port}`, `hooks.example.test:${tls.port}`]);
      // The certificate is checked against the name, not the address: another name is refused.
      const other: Target = { url: new URL(`https://other.example.test:${tls.port}/in`), address: "127.0.0.1" };
      await expect(post(other, init, { ca: cert })).rejects.toThrow();
      expect(seen).toHaveLength(2);
    } finally {
      plain.stop(true);
      tls.stop(true);
    }
  });
});
