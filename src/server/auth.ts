import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';

/*
 * Credentials of the `serve` process: one admin password (for the UI and `POST /api/login`) and one
 * API token (for scripts and Prometheus). Neither is ever kept in clear: the password as a salted
 * scrypt hash with its parameters, the token as a SHA-256 digest — enough for a 256-bit random value,
 * and the reason a user-chosen token must be long (see MIN_API_TOKEN_LENGTH).
 */

/** A salted scrypt hash with the parameters it was made with, so they can be raised later. */
export interface PasswordHash {
  readonly algorithm: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly keyLength: number;
  /** base64 */
  readonly salt: string;
  /** base64 */
  readonly hash: string;
}

/** OWASP's scrypt floor is N=2^17 with r=8; 2^15 keeps a login near 100 ms on a small VM. */
const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1, keyLength: 64 } as const;
/** scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly that at our N, so raise it. */
const scryptMaxmem = (N: number, r: number) => 256 * N * r;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;
/** A token from the environment is compared by SHA-256, so it must carry enough entropy itself. */
export const MIN_API_TOKEN_LENGTH = 32;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, keyLength, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const { N, r, p, keyLength } = SCRYPT_DEFAULTS;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, keyLength, { N, r, p, maxmem: scryptMaxmem(N, r) });
  return {
    algorithm: 'scrypt',
    N,
    r,
    p,
    keyLength,
    salt: salt.toString('base64'),
    hash: key.toString('base64'),
  };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await scrypt(password, Buffer.from(stored.salt, 'base64'), stored.keyLength, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
    maxmem: scryptMaxmem(stored.N, stored.r),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Refuses passwords a user should not be allowed to set; the message never quotes the password. */
export function checkNewPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new ConfigError(`the admin password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new ConfigError(`the admin password must have at most ${MAX_PASSWORD_LENGTH} characters`);
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A random secret, URL- and header-safe (base64url), for passwords, API tokens and session ids. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Where the hashed credentials live. Synchronous: read at start and on a password change only. */
export interface CredentialStore {
  readAdminPassword(): PasswordHash | null;
  writeAdminPassword(hash: PasswordHash): void;
  readApiTokenHash(): string | null;
  writeApiTokenHash(hash: string): void;
}

interface CredentialFile {
  adminPassword?: PasswordHash;
  apiTokenSha256?: string;
}

/**
 * Credentials in `<dataDir>/credentials.json`, owner-only (0600), replaced atomically. A file rather
 * than the control store so that `serve --set-password` works without opening the store, and so a
 * copy of the control database never carries them.
 */
export function fileCredentialStore(dataDir: string): CredentialStore {
  const path = join(dataDir, 'credentials.json');
  const read = (): CredentialFile => {
    if (!existsSync(path)) return {};
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as CredentialFile;
    } catch {
      throw new ConfigError(`${path} is not valid JSON; remove it and set the password again`);
    }
  };
  const write = (next: CredentialFile) => {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  };
  return {
    readAdminPassword: () => read().adminPassword ?? null,
    writeAdminPassword: (hash) => write({ ...read(), adminPassword: hash }),
    readApiTokenHash: () => read().apiTokenSha256 ?? null,
    writeApiTokenHash: (hash) => write({ ...read(), apiTokenSha256: hash }),
  };
}

/** Credentials held in memory, for tests and embedding. */
export function memoryCredentialStore(): CredentialStore {
  let password: PasswordHash | null = null;
  let token: string | null = null;
  return {
    readAdminPassword: () => password,
    writeAdminPassword: (hash) => void (password = hash),
    readApiTokenHash: () => token,
    writeApiTokenHash: (hash) => void (token = hash),
  };
}

export interface Session {
  /** Sent by the client in `X-CSRF-Token` (or a form's `_csrf`) on every state-changing request. */
  readonly csrfToken: string;
  readonly createdAt: number;
  /** Absolute end, whatever the activity. */
  readonly expiresAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  /** Absolute lifetime of a session. Default 12 h. */
  readonly ttlMs?: number;
  /** A session unused this long ends. Default 2 h. */
  readonly idleMs?: number;
  /** Oldest sessions are dropped beyond this, so memory stays bounded whatever the logins. */
  readonly maxSessions?: number;
}

/**
 * Server-side sessions, in memory: a restart logs everyone out, which is acceptable for a single-admin
 * daemon and keeps session ids out of every file. Keys are SHA-256 digests of the cookie value, so a
 * heap dump does not hand out live cookies.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly idleMs: number;
  private readonly maxSessions: number;

  constructor(
    private readonly clock: Clock,
    options: SessionOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.idleMs = options.idleMs ?? 2 * 3600_000;
    this.maxSessions = options.maxSessions ?? 1000;
  }

  create(): { readonly id: string; readonly session: Session } {
    const now = this.clock.now();
    this.prune(now);
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const id = generateSecret();
    const session: Session = {
      csrfToken: generateSecret(),
      createdAt: now,
      expiresAt: now + this.ttlMs,
      lastSeenAt: now,
    };
    this.sessions.set(sha256(id), session);
    return { id, session };
  }

  /** The live session for a cookie value, touched; null when unknown or expired. */
  get(id: string): Session | null {
    const key = sha256(id);
    const session = this.sessions.get(key);
    if (!session) return null;
    const now = this.clock.now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.idleMs) {
      this.sessions.delete(key);
      return null;
    }
    session.lastSeenAt = now;
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(sha256(id));
  }

  /** Ends every session, e.g. after a password change. */
  clear(): void {
    this.sessions.clear();
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(now: number): void {
    for (const [key, session] of this.sessions) {
      if (now >= session.expiresAt || now - session.lastSeenAt >= this.idleMs) this.sessions.delete(key);
    }
  }
}

/**
 * Failed logins per client address in a fixed window. Hono has no built-in rate limiter; this one
 * counts failures only, so a correct password is never locked out by someone else's traffic
 * from another address.
 */
export class LoginRateLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly clock: Clock,
    readonly maxFailures = 5,
    readonly windowMs = 60_000,
    /** Bound on tracked addresses; the oldest are forgotten first. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfterSeconds(key: string): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const elapsed = this.clock.now() - entry.windowStart;
    if (elapsed >= this.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil((this.windowMs - elapsed) / 1000) : 0;
  }

  recordFailure(key: string): void {
    const now = this.clock.now();
    const entry = this.failures.get(key);
    if (entry && now - entry.windowStart < this.windowMs) {
      entry.count += 1;
      return;
    }
    this.failures.delete(key);
    if (this.failures.size >= this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(key, { count: 1, windowStart: now });
  }

  reset(key: string): void {
    this.failures.delete(key);
  }
}

export interface AuthOptions {
  readonly credentials: CredentialStore;
  /**
   * A token given by the operator (env `HARVEST_SYNC_API_TOKEN`); when set it is the API token and
   * the stored one is ignored. Kept only as its digest.
   */
  readonly apiToken?: string;
  readonly clock?: Clock;
  readonly sessions?: SessionOptions;
  readonly loginMaxFailures?: number;
  readonly loginWindowMs?: number;
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
  { readonly ok: true; readonly sessionId: string; readonly session: Session } | PasswordRefusal;

/** Checks credentials and keeps sessions; the HTTP side of it is in auth-middleware.ts. */
export class Auth {
  readonly sessions: SessionStore;
  readonly limiter: LoginRateLimiter;
  readonly secureCookie: boolean | 'auto';
  private readonly credentials: CredentialStore;
  private readonly envTokenDigest: string | null;

  constructor(options: AuthOptions) {
    const clock = options.clock ?? systemClock;
    this.credentials = options.credentials;
    this.sessions = new SessionStore(clock, options.sessions);
    this.limiter = new LoginRateLimiter(clock, options.loginMaxFailures, options.loginWindowMs);
    this.secureCookie = options.secureCookie ?? 'auto';
    if (options.apiToken !== undefined && options.apiToken.length < MIN_API_TOKEN_LENGTH) {
      throw new ConfigError(`HARVEST_SYNC_API_TOKEN must have at least ${MIN_API_TOKEN_LENGTH} characters`);
    }
    this.envTokenDigest = options.apiToken === undefined ? null : sha256(options.apiToken);
  }

  hasAdminPassword(): boolean {
    return this.credentials.readAdminPassword() !== null;
  }

  hasApiToken(): boolean {
    return this.envTokenDigest !== null || this.credentials.readApiTokenHash() !== null;
  }

  /** Sets the admin password (after checking it) and ends every session. */
  async setAdminPassword(password: string): Promise<void> {
    checkNewPassword(password);
    this.credentials.writeAdminPassword(await hashPassword(password));
    this.sessions.clear();
  }

  /** Makes a new API token, stores its digest and returns it: the only time it exists in clear. */
  rotateApiToken(): string {
    const token = generateSecret();
    this.credentials.writeApiTokenHash(sha256(token));
    return token;
  }

  verifyApiToken(token: string): boolean {
    const expected = this.envTokenDigest ?? this.credentials.readApiTokenHash();
    return expected !== null && sameDigest(sha256(token), expected);
  }

  /** Checks the password for a client address, counting failures and refusing while rate-limited. */
  async checkPassword(password: string, clientKey: string): Promise<PasswordCheck> {
    const wait = this.limiter.retryAfterSeconds(clientKey);
    if (wait > 0) return { ok: false, reason: 'rate-limited', retryAfterSeconds: wait };
    const stored = this.credentials.readAdminPassword();
    if (stored === null) return { ok: false, reason: 'not-set' };
    if (!(await verifyPassword(password, stored))) {
      this.limiter.recordFailure(clientKey);
      return { ok: false, reason: 'invalid' };
    }
    this.limiter.reset(clientKey);
    return { ok: true };
  }

  /** checkPassword, then a new session on success. */
  async login(password: string, clientKey: string): Promise<LoginResult> {
    const check = await this.checkPassword(password, clientKey);
    if (!check.ok) return check;
    const { id, session } = this.sessions.create();
    return { ok: true, sessionId: id, session };
  }

  session(id: string): Session | null {
    return this.sessions.get(id);
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }

  /** Constant-time check of a CSRF token against the session's. */
  static csrfMatches(session: Session, presented: string | undefined): boolean {
    return presented !== undefined && sameDigest(sha256(presented), sha256(session.csrfToken));
  }
}
