import type { Session } from "./session.js";
import { type CallOptions, segment, type Transport } from "./transport.js";
import type { ApiKeyList, CreateApiKeyInput, DeleteAccountInput, LoginInput, NewApiKey, RegisterInput, Tokens, User } from "./types.js";

/** API keys of the logged-in user (they are managed with a user's access token, not with an API key). */
export class ApiKeys {
  constructor(private readonly http: Transport) {}

  /** A new key; `key` (the secret) is shown only in this answer. */
  create(input: CreateApiKeyInput, options: CallOptions = {}): Promise<NewApiKey> {
    return this.http.json({ method: "POST", path: "/v1/auth/api-keys", json: input, auth: true, repeatable: false, signal: options.signal });
  }

  list(options: CallOptions = {}): Promise<ApiKeyList> {
    return this.http.json({ method: "GET", path: "/v1/auth/api-keys", auth: true, repeatable: true, signal: options.signal });
  }

  /** The key stops working at once (its open WebSockets close with 4002). */
  revoke(id: string, options: CallOptions = {}): Promise<void> {
    return this.http.none({ method: "DELETE", path: `/v1/auth/api-keys/${segment(id)}`, auth: true, repeatable: false, signal: options.signal });
  }
}

/** Accounts and tokens. Tokens from `login` and `refresh` are kept by the client and used by every later call. */
export class Auth {
  readonly apiKeys: ApiKeys;

  constructor(
    private readonly http: Transport,
    private readonly session: Session,
  ) {
    this.apiKeys = new ApiKeys(http);
  }

  register(input: RegisterInput, options: CallOptions = {}): Promise<User> {
    return this.http.json({ method: "POST", path: "/v1/auth/register", json: input, auth: false, repeatable: false, signal: options.signal });
  }

  /** Logs in: the client uses these tokens from now on (in place of an API key, if it had one). */
  async login(input: LoginInput, options: CallOptions = {}): Promise<Tokens> {
    const tokens = await this.http.json<Tokens>({ method: "POST", path: "/v1/auth/login", json: input, auth: false, repeatable: true, signal: options.signal });
    this.session.accept(tokens);
    return tokens;
  }

  /**
   * Rotates the refresh token now (the client does it by itself on a 401); the new pair is kept.
   * Joins a refresh already under way, so the spent token is never sent twice.
   */
  refresh(): Promise<Tokens> {
    return this.session.refresh();
  }

  /** Revokes the refresh token (and the login it belongs to); the client forgets its credentials (email and password too). */
  async logout(options: CallOptions = {}): Promise<void> {
    const refreshToken = this.session.currentRefreshToken;
    if (refreshToken !== undefined) {
      await this.http.none({ method: "POST", path: "/v1/auth/logout", json: { refresh_token: refreshToken }, auth: false, repeatable: true, signal: options.signal });
    }
    this.session.clear();
  }

  /** The account the client's credential belongs to. */
  me(options: CallOptions = {}): Promise<User> {
    return this.http.json({ method: "GET", path: "/v1/auth/me", auth: true, repeatable: true, signal: options.signal });
  }

  /** Deletes the account with all its data (needs the user's access token and password); the client forgets its tokens. */
  async deleteAccount(input: DeleteAccountInput, options: CallOptions = {}): Promise<void> {
    await this.http.none({ method: "DELETE", path: "/v1/auth/me", json: input, auth: true, repeatable: false, signal: options.signal });
    this.session.clear();
  }

  /** The tokens the client holds now (e.g. to keep them across restarts; `onTokens` tells each change). */
  get tokens(): { accessToken?: string; refreshToken?: string } {
    return this.session.tokens;
  }

  /** Uses these tokens from now on (e.g. tokens kept from an earlier run). */
  setTokens(tokens: { accessToken: string; refreshToken?: string }): void {
    this.session.setTokens({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken });
  }
}
