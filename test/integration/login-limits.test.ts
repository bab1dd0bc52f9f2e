import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import type { Config } from "../../src/config";
import { eventually, freshWindow, useHarness } from "../helpers/app";

const h = useHarness();

/** An app with these limits; attempts come from the address given (TRUST_PROXY, one hop). */
function loginAs(limits: Partial<Config>) {
  const app = createApp({ ...h.deps, config: { ...h.deps.config, TRUST_PROXY: true, AUTH_RATE_LIMIT: 1000, AUTH_EMAIL_RATE_LIMIT: 1000, ...limits } });
  return async (address: string, email: string, password: string) => {
    const res = await app.handle(
      new Request("http://localhost/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": address },
        body: JSON.stringify({ email, password }),
      }),
    );
    return { status: res.status, retryAfter: res.headers.get("retry-after") };
  };
}

/** Waits out a refusal: tries until `attempt` is answered with something other than 429. */
const afterBackoff = (attempt: () => Promise<{ status: number }>) =>
  eventually("the backoff to pass", async () => {
    const answer = await attempt();
    return answer.status !== 429 && answer;
  });

const RIGHT = "SecurePass123";
const WRONG = "guess123456";

describe("login backoff per (email, address)", () => {
  test("past the free failures each wrong password doubles the wait for that address only; the owner elsewhere is never held up", async () => {
    const { email } = await h.account("victim");
    const login = loginAs({ AUTH_LOGIN_FREE_FAILURES: 2 });
    const guesser = "203.0.113.50";
    expect((await login(guesser, email, WRONG)).status).toBe(401);
    expect((await login(guesser, email, WRONG)).status).toBe(401);
    expect((await login(guesser, email, WRONG)).status).toBe(401); // third failure: 1 s until the next try
    expect(await login(guesser, email, RIGHT)).toEqual({ status: 429, retryAfter: "1" });
    // The owner, from another address, signs in at once, again and again.
    for (let i = 0; i < 3; i++) expect((await login("198.51.100.60", email, RIGHT)).status).toBe(200);
    // The guesser waits, fails again: now 2 s.
    expect((await afterBackoff(() => login(guesser, email, WRONG))).status).toBe(401);
    expect(await login(guesser, email, WRONG)).toEqual({ status: 429, retryAfter: "2" });
    // Another email from the guesser's address is not held up by this pair's backoff.
    const { email: otherEmail } = await h.account("bystander");
    expect((await login(guesser, otherEmail, RIGHT)).status).toBe(200);
  });

  test("a right password clears the pair's failures", async () => {
    const { email } = await h.account("forgetful");
    const login = loginAs({ AUTH_LOGIN_FREE_FAILURES: 2 });
    const address = "203.0.113.51";
    for (let i = 0; i < 3; i++) expect((await login(address, email, WRONG)).status).toBe(401);
    expect((await afterBackoff(() => login(address, email, RIGHT))).status).toBe(200);
    // Counting starts again: two free failures, no wait.
    expect((await login(address, email, WRONG)).status).toBe(401);
    expect((await login(address, email, WRONG)).status).toBe(401);
    expect((await login(address, email, RIGHT)).status).toBe(200);
  });
});

describe("login limit per email, from every address", () => {
  test("counts wrong passwords only: guessing spread over addresses meets it, the owner's sign-ins never use it", async () => {
    await freshWindow(300, 5000);
    const { email } = await h.account("popular");
    const login = loginAs({ AUTH_EMAIL_RATE_LIMIT: 3, AUTH_RATE_WINDOW_S: 300 });
    for (let i = 0; i < 5; i++) expect((await login(`198.51.100.${70 + i}`, email, RIGHT)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await login(`203.0.113.${80 + i}`, email, WRONG)).status).toBe(401);
    const refused = await login("203.0.113.90", email, WRONG);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(300);
  });
});
