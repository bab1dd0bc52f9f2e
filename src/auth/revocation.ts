import type { ApiKeyCache } from "./api-keys";
import type { Tokens } from "./tokens";

/**
 * What the auth channel carries: an API key revoked or an account deleted. Every API instance
 * forgets its cached verdicts on it and closes the WebSockets it authorised.
 */
export interface Revocation {
  kind: "api_key" | "account";
  id: string;
}

export const revocationMessage = (r: Revocation) => `${r.kind}:${r.id}`;

/** A bare id is an API key revoked by an instance of an older version. */
export function parseRevocation(raw: string): Revocation {
  const at = raw.indexOf(":");
  const kind = raw.slice(0, at);
  if (kind === "api_key" || kind === "account") return { kind, id: raw.slice(at + 1) };
  return { kind: "api_key", id: raw };
}

/** Drops what this process remembers about a revoked credential. */
export function forgetRevoked(deps: { apiKeys: ApiKeyCache; tokens: Tokens }, revocation: Revocation): void {
  if (revocation.kind === "api_key") deps.apiKeys.evict(revocation.id);
  else {
    deps.tokens.forgetAccount(revocation.id);
    deps.apiKeys.evictAccount(revocation.id);
  }
}
