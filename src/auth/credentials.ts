import type { Redis } from "ioredis";
import type { Config } from "../config";
import { forbidden, tooManyRequests, unauthorized } from "../errors";
import { principalFromApiKey } from "./api-keys";
import type { Principal, Scope } from "./model";
import { rateHeaders, takeRate } from "./rate-limit";
import type { Tokens } from "./tokens";

export interface AuthDeps {
  config: Config;
  redis: Redis;
  tokens: Tokens;
}

export interface Credentials {
  bearer?: string | null;
  apiKey?: string | null;
}

/** Credentials from `Authorization: Bearer` or `x-api-key`; `allowQuery` adds `token` / `api_key` (browser WebSockets). */
export function credentialsOf(request: Request, allowQuery = false): Credentials {
  const auth = request.headers.get("authorization");
  const bearer = auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : undefined;
  let apiKey = request.headers.get("x-api-key");
  let token = bearer;
  if (allowQuery) {
    const query = new URL(request.url).searchParams;
    token ??= query.get("token") ?? undefined;
    apiKey ??= query.get("api_key");
  }
  return { bearer: token, apiKey };
}

/** Resolves the caller. The account comes only from a verified credential, never from the request. */
export async function authenticate(deps: AuthDeps, credentials: Credentials): Promise<Principal> {
  if (credentials.apiKey) {
    const principal = await principalFromApiKey(deps.redis, credentials.apiKey);
    if (!principal) throw unauthorized("Invalid, revoked or expired API key (401)");
    return principal;
  }
  if (credentials.bearer) {
    const userId = await deps.tokens.verifyAccess(credentials.bearer);
    if (!userId) throw unauthorized("Invalid or expired access token (401)");
    return { account: userId, kind: "user", scopes: ["read", "write"], tenants: null };
  }
  throw unauthorized("Authentication required: send Authorization: Bearer <token> or x-api-key (401)");
}

const bucketOf = (p: Principal) => (p.keyId ? `key:${p.keyId}` : `user:${p.account}`);

/** Charges `cost` requests to the caller's shared budget; throws 429 past it. Returns the headers to send. */
export async function chargeRate(deps: AuthDeps, principal: Principal, cost = 1): Promise<Record<string, string>> {
  const decision = await takeRate(deps.redis, bucketOf(principal), deps.config.RATE_LIMIT_REQUESTS, deps.config.RATE_LIMIT_WINDOW_S, cost);
  const headers = rateHeaders(decision);
  if (!decision.allowed) {
    const error = tooManyRequests(decision.resetS);
    Object.assign(error.headers ?? {}, headers);
    throw error;
  }
  return headers;
}

/**
 * The `derive` every authenticated feature uses: resolves the principal (401 before any body
 * validation) and charges one request to its rate budget.
 */
export function requireAuth(deps: AuthDeps) {
  return async ({ request, set }: { request: Request; set: { headers: Record<string, string | number> } }) => {
    const principal = await authenticate(deps, credentialsOf(request));
    Object.assign(set.headers, await chargeRate(deps, principal));
    return { principal };
  };
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
