import type { RedisClient } from "../store/redis";
import type { Config } from "../config";
import { keys } from "../store/keys";
import { AppError, forbidden, tooManyRequests, unauthorized } from "../errors";
import { type ApiKeyCache, principalFromApiKey } from "./api-keys";
import type { Principal, Scope } from "./model";
import { accountBucketOf, type CallerCharge, type RateDecision, rateBucketOf, rateCharge, rateHeaders, takeRate } from "./rate-limit";
import type { Tokens } from "./tokens";

export interface AuthDeps {
  config: Config;
  redis: RedisClient;
  tokens: Tokens;
  apiKeys: ApiKeyCache;
}

/** What charging a rate budget uses. */
export type RateDeps = Pick<AuthDeps, "config" | "redis">;

export interface Credentials {
  bearer?: string | null;
  apiKey?: string | null;
}

/**
 * The WebSocket subprotocol a browser offers to carry its credential in `Sec-WebSocket-Protocol`
 * (it cannot set headers, and a token in a URL ends up in logs and history):
 * `new WebSocket(url, ["memory-mesh", "bearer." + base64url(token)])` or `"apikey." + base64url(key)`.
 * The server selects `memory-mesh`, never the entry carrying the credential.
 */
export const WS_SUBPROTOCOL = "memory-mesh";
const SUBPROTOCOL_CREDENTIAL = /^(bearer|apikey)\.([A-Za-z0-9_-]+)$/;

/** The subprotocols a WebSocket upgrade offers (`Sec-WebSocket-Protocol`, comma-separated). */
export function offeredSubprotocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  return header ? header.split(",").map((p) => p.trim()).filter(Boolean) : [];
}

/** `bearer.` / `apikey.` entries of the offered subprotocols, only when `memory-mesh` is offered too (so it can be selected). */
function subprotocolCredentials(request: Request): Credentials {
  const offered = offeredSubprotocols(request);
  if (!offered.includes(WS_SUBPROTOCOL)) return {};
  const found: Credentials = {};
  for (const entry of offered) {
    const match = SUBPROTOCOL_CREDENTIAL.exec(entry);
    if (!match) continue;
    const value = Buffer.from(match[2], "base64url").toString("utf8");
    if (match[1] === "bearer") found.bearer ??= value;
    else found.apiKey ??= value;
  }
  return found;
}

/**
 * Credentials from `Authorization: Bearer` or `x-api-key`. `browser` (WebSocket upgrades) adds,
 * for what no header carries, the `memory-mesh` subprotocol's entries, then the `token` /
 * `api_key` query parameters.
 */
export function credentialsOf(request: Request, browser = false): Credentials {
  const auth = request.headers.get("authorization");
  const bearer = auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : undefined;
  let apiKey = request.headers.get("x-api-key");
  let token = bearer;
  if (browser) {
    const offered = subprotocolCredentials(request);
    const query = new URL(request.url).searchParams;
    token ??= offered.bearer ?? query.get("token") ?? undefined;
    apiKey ??= offered.apiKey ?? query.get("api_key");
  }
  return { bearer: token, apiKey };
}

/** Resolves the caller. The account comes only from a verified credential, never from the request. */
export async function authenticate(deps: AuthDeps, credentials: Credentials): Promise<Principal> {
  if (credentials.apiKey) {
    const principal = await principalFromApiKey(deps.redis, deps.apiKeys, credentials.apiKey);
    if (!principal) throw unauthorized("Invalid, revoked or expired API key (401)");
    return principal;
  }
  if (credentials.bearer) {
    const access = await deps.tokens.verifyAccess(deps.redis, credentials.bearer);
    if (!access) throw unauthorized("Invalid or expired access token (401)");
    return { account: access.account, kind: "user", scopes: ["read", "write"], tenants: null, expiresAt: access.expiresAt };
  }
  throw unauthorized("Authentication required: send Authorization: Bearer <token> or x-api-key (401)");
}

/** `cost` requests against the caller's budget and its account's, for a script that charges it along with its own work. */
export function callerCharge(deps: Pick<AuthDeps, "config">, principal: Principal, cost = 1): CallerCharge {
  const { RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_S, ACCOUNT_RATE_LIMIT_REQUESTS } = deps.config;
  const tag = keys.accountRateTag(principal.account);
  const charge = rateCharge(tag, rateBucketOf(principal), RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_S, cost);
  // Every credential of an account also draws on the account's budget, so more keys are not more throughput.
  const account = rateCharge(tag, accountBucketOf(principal.account), ACCOUNT_RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_S, cost);
  return { ...charge, also: { key: account.key, limit: account.limit } };
}

/** The RateLimit-* headers of an allowed charge; throws 429 (with them and Retry-After) for a refused one. */
export function settleRate(decision: RateDecision): Record<string, string> {
  const headers = rateHeaders(decision);
  if (!decision.allowed) {
    const error = tooManyRequests(decision.resetS);
    Object.assign(error.headers ?? {}, headers);
    throw error;
  }
  return headers;
}

/** Charges `cost` requests to the caller's shared budget; throws 429 past it. Returns the headers to send. */
export async function chargeRate(deps: RateDeps, principal: Principal, cost = 1): Promise<Record<string, string>> {
  return settleRate(await takeRate(deps.redis, callerCharge(deps, principal, cost)));
}

/**
 * The `derive` every authenticated feature uses: resolves the principal (401 before any body
 * validation) and charges one request to its rate budget. With `charge: false` the route charges
 * the request inside the script that does its work (one Redis round trip instead of two); a
 * request refused before that (400, 403) is charged by `chargeRefused` from the error hook.
 */
export function requireAuth(deps: AuthDeps, options: { charge?: boolean } = {}) {
  const charge = options.charge ?? true;
  return async ({ request, set }: { request: Request; set: { headers: Record<string, string | number> } }) => {
    const principal = await authenticate(deps, credentialsOf(request));
    if (charge) Object.assign(set.headers, await chargeRate(deps, principal));
    return { principal, chargePending: !charge };
  };
}

/** What one request storing `messages` at once costs: 1 + one per full RATE_LIMIT_BATCH_UNIT. */
export const batchCost = (config: Config, messages: number) => 1 + Math.floor(messages / config.RATE_LIMIT_BATCH_UNIT);

/** What writing `messages` costs, in requests: one per RATE_LIMIT_BATCH_UNIT started, as a batch. */
export const messagesCost = (config: Config, messages: number) => Math.ceil(messages / config.RATE_LIMIT_BATCH_UNIT);

/**
 * Charges the messages a bulk operation (a reindex) is about to queue, on top of its request: 429
 * when the budget cannot cover them now; 400 `too_large_for_rate_limit` when it never could.
 */
export async function chargeMessages(deps: RateDeps, principal: Principal, messages: number): Promise<Record<string, string>> {
  const cost = messagesCost(deps.config, messages);
  if (cost === 0) return {};
  const limit = deps.config.RATE_LIMIT_REQUESTS;
  if (cost > limit) {
    throw new AppError(400, "too_large_for_rate_limit", `Queueing ${messages} messages costs ${cost} requests, more than the whole rate budget (${limit} a window)`, { messages, cost, limit });
  }
  return chargeRate(deps, principal, cost);
}

/** Charges (without waiting) a request refused before its route could charge it itself (see requireAuth). */
export function chargeRefused(deps: RateDeps, principal: Principal | undefined, pending: boolean | undefined): void {
  if (pending && principal) chargeRate(deps, principal).catch(() => undefined);
}

export function assertScope(principal: Principal, need: Scope): void {
  if (!principal.scopes.includes(need)) throw forbidden(`This API key does not have the "${need}" scope`);
}

/** Scope and tenant restriction of API keys; a user's own token may use every tenant of the account. */
export function assertTenant(principal: Principal, tenant: string, need: Scope): void {
  assertScope(principal, need);
  if (principal.tenants && !principal.tenants.includes(tenant)) throw forbidden("This API key may not access this tenant");
}

export function canSeeTenant(principal: Principal, tenant: string): boolean {
  return !principal.tenants || principal.tenants.includes(tenant);
}
