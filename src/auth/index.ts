import { Elysia, t } from "elysia";
import type { Deps } from "../deps";
import { forbidden, notFound } from "../errors";
import { errors, given, noContent } from "../http/schemas";
import { deleteAccount, getUser, registerUser, verifyLogin } from "./accounts";
import { createApiKey, listApiKeys, revokeApiKey } from "./api-keys";
import { requireAuth } from "./credentials";
import { ApiKeyList, CreateApiKeyBody, CreatedApiKey, DeleteAccountBody, LoginBody, type Principal, RefreshBody, RegisterBody, TokenPair, User } from "./model";
import { checkLoginAllowed, checkRegisterAllowed, recordLogin } from "./login-limits";

type Server = { requestIP(r: Request): { address: string } | null } | null;

/**
 * The client's address. Behind proxies (TRUST_PROXY), the entry of X-Forwarded-For that the
 * nearest of our own proxies appended: TRUST_PROXY_HOPS from the right. Entries to the left of it
 * are written by the client and could be rotated to escape the per-address limit.
 */
function clientAddress(deps: Deps, request: Request, server: Server): string {
  if (deps.config.TRUST_PROXY) {
    const entries = (request.headers.get("x-forwarded-for") ?? "").split(",").map((e) => e.trim()).filter(Boolean);
    const forwarded = entries[entries.length - deps.config.TRUST_PROXY_HOPS];
    if (forwarded) return forwarded;
  }
  return server?.requestIP(request)?.address ?? "unknown";
}

/** API keys are managed with a user's own access token: a (possibly restricted) key cannot mint keys. */
function requireUser(principal: Principal): void {
  if (principal.kind !== "user") throw forbidden("API keys are managed with a logged-in user's access token");
}

export function authRoutes(deps: Deps) {
  const { redis, tokens } = deps;
  const open = new Elysia({ prefix: "/v1/auth", tags: ["Auth"] })
    .post(
      "/register",
      async ({ body, request, server, set }) => {
        await checkRegisterAllowed(redis, deps.config, clientAddress(deps, request, server as Server));
        set.status = 201;
        return registerUser(redis, body);
      },
      { body: RegisterBody, response: { 201: User, ...errors(400, 409, 429) }, detail: {
          operationId: "register",
          summary: "Create an account",
          description: "Limited per client address and per email. 409 `email_taken` or `username_taken`.",
          security: [],
        },
      },
    )
    .post(
      "/login",
      async ({ body, request, server }) => {
        const address = clientAddress(deps, request, server as Server);
        await checkLoginAllowed(redis, deps.config, body.email, address);
        const user = await verifyLogin(redis, body.email, body.password).catch(async (error) => {
          await recordLogin(redis, deps.config, body.email, address, false);
          throw error;
        });
        await recordLogin(redis, deps.config, body.email, address, true);
        return tokens.issue(redis, user.id);
      },
      {
        body: LoginBody,
        response: { 200: TokenPair, ...errors(400, 401, 429) },
        detail: {
          operationId: "login",
          summary: "Exchange email and password for tokens",
          description: "An access token (a JWT, valid `expires_in` seconds) and a refresh token. Limited per client address and per email.",
          security: [],
        },
      },
    )
    .post("/refresh", ({ body }) => tokens.rotate(redis, body.refresh_token), {
      body: RefreshBody,
      response: { 200: TokenPair, ...errors(400, 401) },
      detail: {
        operationId: "refreshTokens",
        summary: "Rotate a refresh token: the old one stops working; reusing it revokes the whole family",
        description: "Answers a new token pair; keep the new refresh token, the one sent is spent.",
        security: [],
      },
    })
    .post(
      "/logout",
      async ({ body, set }) => {
        await tokens.revoke(redis, body.refresh_token);
        set.status = 204;
      },
      {
        body: RefreshBody,
        detail: {
          operationId: "logout",
          summary: "Revoke a refresh token (and the login it belongs to)",
          description: "Every refresh token of that login stops working; 204 also when the token was unknown or already revoked.",
          security: [],
          responses: noContent(400),
        },
      },
    );

  const guarded = new Elysia({ prefix: "/v1/auth", tags: ["Auth"] })
    .derive(requireAuth(deps))
    .get(
      "/me",
      async ({ principal }) => {
        const user = await getUser(redis, principal.account);
        if (!user) throw notFound("Account");
        return user;
      },
      {
        response: { 200: User, ...errors(401) },
        detail: {
          operationId: "getCurrentUser",
          summary: "The calling account",
          description: "The account an access token or API key belongs to.",
          security: [{ bearerAuth: [] }, { apiKey: [] }],
        },
      },
    )
    .delete(
      "/me",
      async ({ principal, body, set }) => {
        requireUser(principal);
        await deleteAccount(redis, principal.account, body.password, deps.embedder.modelKey);
        set.status = 204;
      },
      {
        body: DeleteAccountBody,
        detail: {
          operationId: "deleteAccount",
          summary: "Delete the calling account and everything in it",
          description:
            "Confirmed by the account's password, with the user's own access token (not an API key). Deletes every message, conversation, vector and API key; the account's tokens stop working and its WebSockets close with 4003.",
          security: [{ bearerAuth: [] }],
          responses: noContent(400, 401, 403),
        },
      },
    )
    .post(
      "/api-keys",
      async ({ principal, body, set }) => {
        requireUser(principal);
        set.status = 201;
        return createApiKey(
          redis,
          principal.account,
          { name: body.name, expiresDays: given(body.expires_days), tenantIds: given(body.tenant_ids), scopes: given(body.scopes) },
          deps.config.MAX_API_KEYS_PER_USER,
        );
      },
      {
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errors(400, 401, 403, 409) },
        detail: {
          operationId: "createApiKey",
          summary: "Create an API key (the full key is shown only in this answer; at most MAX_API_KEYS_PER_USER per account)",
          description: "Needs a user's access token: an API key cannot create keys (403). `tenant_ids` and `scopes` restrict the new key; 409 `api_key_limit` at the cap.",
          security: [{ bearerAuth: [] }],
        },
      },
    )
    .get(
      "/api-keys",
      async ({ principal }) => {
        requireUser(principal);
        return { api_keys: await listApiKeys(redis, principal.account) };
      },
      {
        response: { 200: ApiKeyList, ...errors(401, 403) },
        detail: {
          operationId: "listApiKeys",
          summary: "List API keys (no secrets)",
          description: "The calling account's keys with their restrictions and when each was last used.",
          security: [{ bearerAuth: [] }],
        },
      },
    )
    .delete(
      "/api-keys/:id",
      async ({ principal, params, set }) => {
        requireUser(principal);
        await revokeApiKey(redis, deps.apiKeys, principal.account, params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: {
          operationId: "revokeApiKey",
          summary: "Revoke an API key",
          description: "The key stops working at once. 404 when the account has no key with this id.",
          security: [{ bearerAuth: [] }],
          responses: noContent(400, 401, 403, 404),
        },
      },
    );

  return new Elysia().use(open).use(guarded);
}
