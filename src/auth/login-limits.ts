import type { RedisClient } from "../store/redis";
import type { Config } from "../config";
import { tooManyRequests } from "../errors";
import { keys } from "../store/keys";
import { Script } from "../store/script";
import { rateCharge, takeRate } from "./rate-limit";

/**
 * Password guessing is slowed where it comes from, not where it aims. Three limits:
 * - per (email, address): after AUTH_LOGIN_FREE_FAILURES wrong passwords in a row, each further
 *   one doubles the wait before the next attempt from that address for that email (1 s, 2 s, 4 s...,
 *   at most AUTH_LOGIN_BACKOFF_MAX_S); a right password clears it. The owner, signing in from
 *   anywhere else, never waits for a guesser.
 * - per address (AUTH_RATE_LIMIT attempts a window, login and register): one host trying many
 *   emails or creating accounts.
 * - per email, from every address together (AUTH_EMAIL_RATE_LIMIT wrong passwords a window):
 *   loose, against a guesser spread over many addresses; only failures count, so the owner's own
 *   sign-ins never use it up.
 */
/** The pair's backoff and the email's failures (both in the email's slot): the wait left, or 0. */
const CHECK = new Script(`
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local now = tonumber(ARGV[1])
if until_ms > now then return until_ms - now end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return redis.call('PTTL', KEYS[2]) end
return 0
`);

/** A wrong password: counts for the pair (backing off past the free ones) and for the email. */
const FAILED = new Script(`
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
if failures > free then
  local wait = math.min(1000 * 2 ^ (failures - free - 1), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + wait)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4])) end
return failures
`);

type LimitConfig = Pick<
  Config,
  "AUTH_RATE_LIMIT" | "AUTH_EMAIL_RATE_LIMIT" | "AUTH_RATE_WINDOW_S" | "AUTH_LOGIN_FREE_FAILURES" | "AUTH_LOGIN_BACKOFF_MAX_S"
>;

const emailCharge = (config: LimitConfig, email: string) =>
  rateCharge(keys.emailRateTag(email), "auth-email", config.AUTH_EMAIL_RATE_LIMIT, config.AUTH_RATE_WINDOW_S);
const addressCharge = (config: LimitConfig, address: string) =>
  rateCharge(keys.addressRateTag(address), "auth-ip", config.AUTH_RATE_LIMIT, config.AUTH_RATE_WINDOW_S);

function refuse(waitMs: number): never {
  throw tooManyRequests(Math.max(1, Math.ceil(waitMs / 1000)), "Too many attempts; retry later (429)");
}

/** Before a password is checked: 429 (with Retry-After) while any of the three limits holds. */
export async function checkLoginAllowed(redis: RedisClient, config: LimitConfig, email: string, address: string): Promise<void> {
  const emailWindow = emailCharge(config, email);
  const waitMs = await CHECK.run<number>(redis, [keys.loginFailures(email, address), emailWindow.key], [Date.now(), config.AUTH_EMAIL_RATE_LIMIT]);
  if (waitMs > 0) refuse(waitMs);
  // The address's attempts are charged only when the email's limits let the attempt through.
  const perAddress = await takeRate(redis, addressCharge(config, address));
  if (!perAddress.allowed) refuse(perAddress.resetS * 1000);
}

/** After the password was checked: a failure counts, a success clears the pair's failures. */
export async function recordLogin(redis: RedisClient, config: LimitConfig, email: string, address: string, ok: boolean): Promise<void> {
  const pair = keys.loginFailures(email, address);
  if (ok) {
    await redis.del(pair);
    return;
  }
  const emailWindow = emailCharge(config, email);
  await FAILED.run(redis, [pair, emailWindow.key], [Date.now(), config.AUTH_LOGIN_FREE_FAILURES, config.AUTH_LOGIN_BACKOFF_MAX_S * 1000, emailWindow.windowMs]);
}

/** Registering is limited per address only (an email cannot be guessed into an account). */
export async function checkRegisterAllowed(redis: RedisClient, config: LimitConfig, address: string): Promise<void> {
  const decision = await takeRate(redis, addressCharge(config, address));
  if (!decision.allowed) refuse(decision.resetS * 1000);
}
