import { CREDENTIALS_FILE } from '../control/data-dir.js';
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/*
 * The credentials of the `serve` process, never kept in clear: the admin password as a salted scrypt
 * hash with its parameters, API tokens as SHA-256 digests — enough for 256-bit random values, and the
 * reason a user-chosen token must be long (see MIN_API_TOKEN_LENGTH).
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

/** Which password a session or device cookie was made under: changes whenever the password does. */
export function passwordGeneration(stored: PasswordHash): string {
  return sha256(`${stored.salt}.${stored.hash}`).slice(0, 32);
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

export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What an API token may do: `read` — GET routes and /metrics; `admin` — everything. */
export const TOKEN_SCOPES = ['read', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** An API token created through the API or UI, as stored: its digest, never the token. */
export interface StoredApiToken {
  readonly id: string;
  readonly name: string;
  readonly scope: TokenScope;
  readonly sha256: string;
  readonly createdAt: string;
}

/**
 * Where the hashed credentials live. Synchronous and cheap to read: the API token and the password's
 * generation are read on every request, so a change made by another process (`serve --set-password`,
 * `--new-api-token`) takes effect in a running daemon at once.
 */
export interface CredentialStore {
  readAdminPassword(): PasswordHash | null;
  writeAdminPassword(hash: PasswordHash): void;
  /** The admin token generated at first start or by `serve --new-api-token`; null when none or revoked. */
  readApiTokenHash(): string | null;
  writeApiTokenHash(hash: string | null): void;
  readApiTokens(): readonly StoredApiToken[];
  writeApiTokens(tokens: readonly StoredApiToken[]): void;
}

interface CredentialFile {
  adminPassword?: PasswordHash;
  apiTokenSha256?: string | null;
  apiTokens?: StoredApiToken[];
}

/**
 * Credentials in `<dataDir>/credentials.json`, owner-only (0600), replaced atomically. A file rather
 * than the control store so that `serve --set-password` works without opening the store, and so a
 * copy of the control database never carries them. Parsed again only when the file changes (its
 * inode, times or size), so reading it on every request costs one stat.
 */
export function fileCredentialStore(dataDir: string): CredentialStore {
  const path = join(dataDir, CREDENTIALS_FILE);
  let cache: { key: string; file: CredentialFile } | null = null;
  const read = (): CredentialFile => {
    const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!stats) return {};
    const key = `${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.size}`;
    if (cache?.key === key) return cache.file;
    try {
      cache = { key, file: JSON.parse(readFileSync(path, 'utf8')) as CredentialFile };
      return cache.file;
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
    cache = null;
  };
  return {
    readAdminPassword: () => read().adminPassword ?? null,
    writeAdminPassword: (hash) => write({ ...read(), adminPassword: hash }),
    readApiTokenHash: () => read().apiTokenSha256 ?? null,
    writeApiTokenHash: (hash) => write({ ...read(), apiTokenSha256: hash }),
    readApiTokens: () => read().apiTokens ?? [],
    writeApiTokens: (tokens) => write({ ...read(), apiTokens: [...tokens] }),
  };
}

/** Credentials held in memory, for tests and embedding. */
export function memoryCredentialStore(): CredentialStore {
  let password: PasswordHash | null = null;
  let token: string | null = null;
  let tokens: readonly StoredApiToken[] = [];
  return {
    readAdminPassword: () => password,
    writeAdminPassword: (hash) => void (password = hash),
    readApiTokenHash: () => token,
    writeApiTokenHash: (hash) => void (token = hash),
    readApiTokens: () => tokens,
    writeApiTokens: (next) => void (tokens = [...next]),
  };
}
