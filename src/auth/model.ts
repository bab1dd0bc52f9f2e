import { t } from "elysia";
import { Maybe, TenantId, WELL_FORMED } from "../http/schemas";

export const Scope = t.Union([t.Literal("read"), t.Literal("write")]);
export type Scope = typeof Scope.static;

export const RegisterBody = t.Object({
  email: t.String({ maxLength: 254, pattern: "^[^\\s@\\ud800-\\udfff]+@[^\\s@\\ud800-\\udfff]+\\.[^\\s@\\ud800-\\udfff]+$", examples: ["user@example.com"] }),
  username: t.String({ pattern: "^[A-Za-z0-9_.-]{3,32}$", description: "3-32 letters, digits, _ . -", examples: ["testuser"] }),
  password: t.String({
    minLength: 8,
    maxLength: 128,
    pattern: "^(?=.*[A-Za-z])(?=.*[0-9])",
    description: "8-128 characters with at least one letter and one digit",
    examples: ["SecurePass123"],
  }),
});

export const LoginBody = t.Object({
  email: t.String({ maxLength: 254, pattern: WELL_FORMED, examples: ["user@example.com"] }),
  password: t.String({ maxLength: 128, examples: ["SecurePass123"] }),
});

export const DeleteAccountBody = t.Object({ password: t.String({ maxLength: 128, description: "The account's password, to confirm" }) });

export const RefreshBody = t.Object({ refresh_token: t.String({ minLength: 1, maxLength: 512 }) });

export const User = t.Object(
  { id: t.String(), email: t.String(), username: t.String(), created_at: t.String({ format: "date-time" }) },
  { examples: [{ id: "usr_01jd...", email: "user@example.com", username: "testuser", created_at: "2026-11-25T12:00:00.000Z" }] },
);
export type User = typeof User.static;

export const TokenPair = t.Object(
  {
    access_token: t.String(),
    refresh_token: t.String(),
    token_type: t.Literal("bearer"),
    expires_in: t.Integer({ description: "Seconds until the access token expires" }),
  },
  { examples: [{ access_token: "eyJhbGciOi...", refresh_token: "rt_...", token_type: "bearer", expires_in: 900 }] },
);
export type TokenPair = typeof TokenPair.static;

export const CreateApiKeyBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100, examples: ["production-backend"] }),
  expires_days: Maybe(t.Integer({ minimum: 1, maximum: 3650, description: "Days until the key expires; none = never" })),
  tenant_ids: Maybe(t.Array(TenantId, { minItems: 1, maxItems: 100, description: "Restrict the key to these tenants" })),
  scopes: Maybe(t.Array(Scope, { minItems: 1, maxItems: 2, description: "Default: read and write" })),
});

const ApiKeyFields = {
  id: t.String(),
  name: t.String(),
  prefix: t.String({ description: "Public part of the key, to recognise it" }),
  scopes: t.Array(Scope),
  tenant_ids: t.Union([t.Array(t.String()), t.Null()]),
  created_at: t.String({ format: "date-time" }),
  expires_at: t.Union([t.String({ format: "date-time" }), t.Null()]),
};

export const ApiKeyInfo = t.Object({ ...ApiKeyFields, last_used_at: t.Union([t.String({ format: "date-time" }), t.Null()]) });
export type ApiKeyInfo = typeof ApiKeyInfo.static;
export const CreatedApiKey = t.Object(
  { ...ApiKeyFields, key: t.String({ description: "The full key; shown only once" }) },
  {
    examples: [
      { id: "k3f9a1b2c4d5e6f70", name: "production-backend", key: "mm_k3f9a1b2c4d5e6f70_...", prefix: "mm_k3f9a1b2c4d5e6f70", scopes: ["read", "write"], tenant_ids: null, created_at: "2026-11-25T12:00:00.000Z", expires_at: null },
    ],
  },
);
export type CreatedApiKey = typeof CreatedApiKey.static;
export const ApiKeyList = t.Object({ api_keys: t.Array(ApiKeyInfo) });

/** Who is calling, resolved from the credential; every data key is derived from `account`. */
export interface Principal {
  account: string;
  kind: "user" | "api_key";
  keyId?: string;
  scopes: Scope[];
  /** null = every tenant of the account */
  tenants: string[] | null;
  /** when the credential expires (ms since the epoch); none = never */
  expiresAt?: number;
}
