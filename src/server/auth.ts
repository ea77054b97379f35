import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import {
  MIN_API_TOKEN_LENGTH,
  checkNewPassword,
  generateSecret,
  hashPassword,
  passwordGeneration,
  sameDigest,
  sha256,
  verifyPassword,
} from './credentials.js';
import type { CredentialStore, PasswordHash, StoredApiToken, TokenScope } from './credentials.js';
import { LoginThrottle } from './login-throttle.js';
import type { BackoffPolicy } from './login-throttle.js';
import { SessionStore } from './sessions.js';
import type { Session, SessionOptions } from './sessions.js';

/*
 * Credentials of the `serve` process: one admin password (for the UI and `POST /api/login`) and API
 * tokens with a scope (for scripts, Prometheus and dashboards). How they are stored is in
 * credentials.ts, sessions in sessions.ts, login limiting in login-throttle.ts; this is what ties them
 * together for the HTTP side (middleware.ts).
 */

export * from './credentials.js';
export { ACCOUNT_BACKOFF, Backoff, CLIENT_BACKOFF, LoginThrottle } from './login-throttle.js';
export type { BackoffPolicy } from './login-throttle.js';
export { SessionStore } from './sessions.js';
export type { Session, SessionOptions } from './sessions.js';

export interface AuthOptions {
  readonly credentials: CredentialStore;
  /**
   * A token given by the operator (env `HARVEST_SYNC_API_TOKEN`, admin scope); when set, the token
   * generated at first start is ignored. Kept only as its digest.
   */
  readonly apiToken?: string;
  readonly clock?: Clock;
  readonly sessions?: SessionOptions;
  readonly login?: { readonly client?: BackoffPolicy; readonly account?: BackoffPolicy };
  /**
   * Whether the session cookie gets `Secure`: `true` (served behind TLS, e.g. `--secure-cookie`),
   * `false`, or `'auto'` (default): when the request URL is https.
   */
  readonly secureCookie?: boolean | 'auto';
}

export type PasswordRefusal =
  | { readonly ok: false; readonly reason: 'invalid' | 'not-set' }
  | { readonly ok: false; readonly reason: 'rate-limited'; readonly retryAfterSeconds: number };
export type PasswordCheck = { readonly ok: true } | PasswordRefusal;
export type LoginResult =
  | {
      readonly ok: true;
      readonly sessionId: string;
      readonly session: Session;
      /** A device cookie value for this browser (see login-throttle.ts). */
      readonly device: string;
    }
  | PasswordRefusal;

/** What a valid API token grants. */
export interface TokenGrant {
  readonly id: string;
  readonly scope: TokenScope;
}

/** An API token as the API lists it: never the token, never its digest. */
export interface ApiTokenView {
  readonly id: string;
  readonly name: string;
  readonly scope: TokenScope;
  readonly createdAt: string | null;
  /** `created` (API or UI), `first start` (or `serve --new-api-token`), `environment` (HARVEST_SYNC_API_TOKEN). */
  readonly source: 'created' | 'first start' | 'environment';
  readonly revocable: boolean;
}

export const FIRST_START_TOKEN_ID = 'first-start';
export const ENV_TOKEN_ID = 'environment';
const TOKEN_LIMIT = 100;

export class Auth {
  readonly sessions: SessionStore;
  readonly throttle: LoginThrottle;
  readonly secureCookie: boolean | 'auto';
  private readonly credentials: CredentialStore;
  private readonly envTokenDigest: string | null;
  private readonly clock: Clock;

  constructor(options: AuthOptions) {
    this.clock = options.clock ?? systemClock;
    this.credentials = options.credentials;
    this.sessions = new SessionStore(this.clock, options.sessions);
    this.throttle = new LoginThrottle(this.clock, options.login);
    this.secureCookie = options.secureCookie ?? 'auto';
    if (options.apiToken !== undefined && options.apiToken.length < MIN_API_TOKEN_LENGTH) {
      throw new ConfigError(`HARVEST_SYNC_API_TOKEN must have at least ${MIN_API_TOKEN_LENGTH} characters`);
    }
    this.envTokenDigest = options.apiToken === undefined ? null : sha256(options.apiToken);
  }

  hasAdminPassword(): boolean {
    return this.credentials.readAdminPassword() !== null;
  }

  /** Whether an admin-scope token exists (the one from first start or the environment). */
  hasApiToken(): boolean {
    return this.envTokenDigest !== null || this.credentials.readApiTokenHash() !== null;
  }

  /** Sets the admin password (after checking it): every session and device cookie of the old one ends. */
  async setAdminPassword(password: string): Promise<void> {
    checkNewPassword(password);
    this.credentials.writeAdminPassword(await hashPassword(password));
    this.sessions.clear();
  }

  /** Makes a new first-start admin token, stores its digest and returns it: the only time it exists in clear. */
  rotateApiToken(): string {
    const token = generateSecret();
    this.credentials.writeApiTokenHash(sha256(token));
    return token;
  }

  /** The scope a presented API token grants, or null. Every stored digest is compared, in constant time. */
  apiTokenGrant(token: string): TokenGrant | null {
    const digest = sha256(token);
    const firstStart = this.envTokenDigest === null ? this.credentials.readApiTokenHash() : null;
    const candidates: Array<{ id: string; scope: TokenScope; digest: string | null }> = [
      { id: ENV_TOKEN_ID, scope: 'admin', digest: this.envTokenDigest },
      { id: FIRST_START_TOKEN_ID, scope: 'admin', digest: firstStart },
      ...this.credentials.readApiTokens().map((t) => ({ id: t.id, scope: t.scope, digest: t.sha256 })),
    ];
    let grant: TokenGrant | null = null;
    for (const c of candidates) {
      if (c.digest !== null && sameDigest(digest, c.digest) && grant === null)
        grant = { id: c.id, scope: c.scope };
    }
    return grant;
  }

  verifyApiToken(token: string): boolean {
    return this.apiTokenGrant(token) !== null;
  }

  listApiTokens(): ApiTokenView[] {
    const views: ApiTokenView[] = [];
    if (this.envTokenDigest !== null) {
      views.push({
        id: ENV_TOKEN_ID,
        name: 'HARVEST_SYNC_API_TOKEN',
        scope: 'admin',
        createdAt: null,
        source: 'environment',
        revocable: false,
      });
    } else if (this.credentials.readApiTokenHash() !== null) {
      views.push({
        id: FIRST_START_TOKEN_ID,
        name: 'generated at first start',
        scope: 'admin',
        createdAt: null,
        source: 'first start',
        revocable: true,
      });
    }
    for (const t of this.credentials.readApiTokens())
      views.push({
        id: t.id,
        name: t.name,
        scope: t.scope,
        createdAt: t.createdAt,
        source: 'created',
        revocable: true,
      });
    return views;
  }

  /** Creates a token: its digest is stored, the token returned once. */
  createApiToken(name: string, scope: TokenScope): { readonly token: ApiTokenView; readonly secret: string } {
    const existing = this.credentials.readApiTokens();
    if (existing.length >= TOKEN_LIMIT)
      throw new ConfigError(`at most ${TOKEN_LIMIT} API tokens: revoke one first`);
    const secret = generateSecret();
    const stored: StoredApiToken = {
      id: randomBytes(6).toString('hex'),
      name,
      scope,
      sha256: sha256(secret),
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    this.credentials.writeApiTokens([...existing, stored]);
    return { token: this.listApiTokens().find((t) => t.id === stored.id)!, secret };
  }

  /** Revokes a token by id: `revoked`, `unknown`, or `fixed` (set by the environment). */
  revokeApiToken(id: string): 'revoked' | 'unknown' | 'fixed' {
    if (id === ENV_TOKEN_ID && this.envTokenDigest !== null) return 'fixed';
    if (
      id === FIRST_START_TOKEN_ID &&
      this.envTokenDigest === null &&
      this.credentials.readApiTokenHash() !== null
    ) {
      this.credentials.writeApiTokenHash(null);
      return 'revoked';
    }
    const tokens = this.credentials.readApiTokens();
    if (!tokens.some((t) => t.id === id)) return 'unknown';
    this.credentials.writeApiTokens(tokens.filter((t) => t.id !== id));
    return 'revoked';
  }

  #stored(): PasswordHash | null {
    return this.credentials.readAdminPassword();
  }

  #deviceMac(stored: PasswordHash, nonce: string): string {
    // keyed by the password hash itself: a new password voids every device cookie, and nothing new is stored
    return createHmac('sha256', Buffer.from(stored.hash, 'base64'))
      .update(`harvest-sync device ${nonce}`)
      .digest('base64url');
  }

  /** The id of a device cookie made under the current password, or null for a forged or stale one. */
  deviceId(cookie: string | undefined): string | null {
    const stored = this.#stored();
    const [nonce, mac, extra] = (cookie ?? '').split('.');
    if (!stored || !nonce || !mac || extra !== undefined || nonce.length > 64) return null;
    return sameDigest(mac, this.#deviceMac(stored, nonce)) ? nonce : null;
  }

  /**
   * Checks the password for a client address (and the browser's device cookie, if any), counting the
   * attempt before hashing, refusing while its back-off runs.
   */
  async checkPassword(password: string, clientKey: string, deviceCookie?: string): Promise<PasswordCheck> {
    const stored = this.#stored();
    if (stored === null) return { ok: false, reason: 'not-set' };
    const decision = this.throttle.admit(clientKey, this.deviceId(deviceCookie));
    if (!decision.allowed)
      return { ok: false, reason: 'rate-limited', retryAfterSeconds: decision.retryAfterSeconds };
    const right = await verifyPassword(password, stored);
    decision.settle(right);
    return right ? { ok: true } : { ok: false, reason: 'invalid' };
  }

  /** checkPassword, then a new session (and device cookie) on success. */
  async login(password: string, clientKey: string, deviceCookie?: string): Promise<LoginResult> {
    const check = await this.checkPassword(password, clientKey, deviceCookie);
    if (!check.ok) return check;
    const stored = this.#stored();
    if (stored === null) return { ok: false, reason: 'not-set' };
    const { id, session } = this.sessions.create(passwordGeneration(stored));
    const kept = this.deviceId(deviceCookie);
    const nonce = kept ?? generateSecret(16);
    return { ok: true, sessionId: id, session, device: `${nonce}.${this.#deviceMac(stored, nonce)}` };
  }

  /** The live session of a cookie value; null when unknown, expired, or opened under another password. */
  session(id: string): Session | null {
    const stored = this.#stored();
    return stored === null ? null : this.sessions.get(id, passwordGeneration(stored));
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }

  /** Constant-time check of a CSRF token against the session's. */
  static csrfMatches(session: Session, presented: string | undefined): boolean {
    return presented !== undefined && sameDigest(sha256(presented), sha256(session.csrfToken));
  }
}
