import { MemoryMeshError } from "./errors.js";
import type { Tokens } from "./types.js";

/** What the session needs from the transport: the two token calls, made without credentials. */
export interface TokenCalls {
  login(email: string, password: string): Promise<Tokens>;
  refresh(refreshToken: string): Promise<Tokens>;
}

export interface SessionOptions {
  apiKey?: string;
  accessToken?: string;
  refreshToken?: string;
  email?: string;
  password?: string;
  onTokens?: (tokens: Tokens) => void;
}

/** The credential a request was sent with, to tell later whether it has been replaced since. */
export interface Credential {
  header?: { name: "authorization" | "x-api-key"; value: string };
  /** `token` or `api_key`: how a browser WebSocket carries it */
  query?: { name: "token" | "api_key"; value: string };
}

/**
 * The client's credential: an API key, or an access token with the refresh token that renews it
 * (and, given email and password, a login whenever there is no working refresh token).
 *
 * Refresh tokens rotate: each refresh spends the token it sends, and sending a spent one revokes
 * the whole login. So however many requests meet a 401 together, one refresh runs and the others
 * wait for it; a request that was sent with a token already replaced just retries with the new one.
 */
export class Session {
  private apiKey: string | undefined;
  private accessToken: string | undefined;
  private refreshToken: string | undefined;
  private email: string | undefined;
  private password: string | undefined;
  private readonly onTokens: ((tokens: Tokens) => void) | undefined;
  private renewal: Promise<void> | undefined;
  private latest: Tokens | undefined;
  calls: TokenCalls | undefined;

  constructor(options: SessionOptions) {
    this.apiKey = options.apiKey;
    this.accessToken = options.accessToken;
    this.refreshToken = options.refreshToken;
    this.email = options.email;
    this.password = options.password;
    this.onTokens = options.onTokens;
  }

  /** Tokens replace an API key: the client acts as the logged-in user from now on. */
  setTokens(tokens: { access_token: string; refresh_token?: string }): void {
    this.accessToken = tokens.access_token;
    if (tokens.refresh_token !== undefined) this.refreshToken = tokens.refresh_token;
    this.apiKey = undefined;
  }

  /** Forgets every credential (after logout or deleting the account): tokens, API key, email and password. */
  clear(): void {
    this.accessToken = undefined;
    this.refreshToken = undefined;
    this.apiKey = undefined;
    this.email = undefined;
    this.password = undefined;
  }

  get tokens(): { accessToken?: string; refreshToken?: string } {
    return { accessToken: this.accessToken, refreshToken: this.refreshToken };
  }

  get currentRefreshToken(): string | undefined {
    return this.refreshToken;
  }

  /** The credential to send now; without an access token, gets one first (refresh token, or email and password). */
  async credential(): Promise<Credential> {
    if (this.accessToken === undefined && this.apiKey === undefined && (this.refreshToken !== undefined || this.canLogin())) await this.refresh();
    if (this.accessToken !== undefined) {
      return { header: { name: "authorization", value: `Bearer ${this.accessToken}` }, query: { name: "token", value: this.accessToken } };
    }
    if (this.apiKey !== undefined) return { header: { name: "x-api-key", value: this.apiKey }, query: { name: "api_key", value: this.apiKey } };
    return {};
  }

  /**
   * After a 401 to a request sent with `used`: gets a new access token, unless one came since
   * (then nothing to do). True when the request is worth sending again; false when there is no way
   * to renew (an API key, no refresh token and no password). A failed renewal throws its error.
   */
  async renew(used: Credential | undefined): Promise<boolean> {
    const usedToken = used?.query?.name === "token" ? used.query.value : undefined;
    if (this.accessToken !== undefined && usedToken !== undefined && this.accessToken !== usedToken) return true;
    if (this.renewal) {
      await this.renewal;
      return true;
    }
    if (this.refreshToken === undefined && !this.canLogin()) return false;
    if (used?.header?.name === "x-api-key" && this.accessToken === undefined) return false;
    await this.refresh();
    return true;
  }

  /** Gets new tokens now (the refresh token, else a login); joins a renewal already under way. Answers the tokens. */
  async refresh(): Promise<Tokens> {
    this.renewal ??= this.obtain().finally(() => {
      this.renewal = undefined;
    });
    await this.renewal;
    return this.latest as Tokens;
  }

  private canLogin(): boolean {
    return this.email !== undefined && this.password !== undefined;
  }

  private async obtain(): Promise<void> {
    const calls = this.calls;
    if (!calls) throw new Error("Session: token calls not set");
    let tokens: Tokens | undefined;
    if (this.refreshToken === undefined && !this.canLogin()) {
      throw new MemoryMeshError({ status: 0, code: "no_credentials", message: "No refresh token to renew the access token with: log in first" });
    }
    if (this.refreshToken !== undefined) {
      try {
        tokens = await calls.refresh(this.refreshToken);
      } catch (error) {
        // A spent or revoked refresh token: log in again when the password is known, else report it.
        if (!this.canLogin()) throw error;
      }
    }
    tokens ??= await calls.login(this.email as string, this.password as string);
    this.accept(tokens);
  }

  /** Keeps tokens the server issued (login, refresh) and tells `onTokens`. */
  accept(tokens: Tokens): void {
    this.latest = tokens;
    this.setTokens(tokens);
    this.onTokens?.(tokens);
  }
}
