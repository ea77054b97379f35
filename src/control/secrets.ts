import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, HarvestSyncError } from '../errors.js';

/*
 * Secrets at rest: AES-256-GCM, one random 96-bit IV per value, and additional authenticated data
 * naming what the value is (`pipeline:7:token`), so a ciphertext copied onto another pipeline or
 * field fails to decrypt instead of silently handing over someone else's token.
 * Envelope: `v1.<iv>.<ciphertext>.<tag>`, each part base64url; the version leaves room for a new
 * algorithm or key rotation.
 */

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const SECRET_KEY_FILE = 'secret.key';

/** A secret could not be decrypted: the key is not the one it was encrypted with, or the value was altered. */
export class SecretDecryptionError extends HarvestSyncError {
  constructor(what: string) {
    super(
      'SECRET_DECRYPTION_FAILED',
      `cannot decrypt the ${what}: the secret key is not the one it was stored with (check HARVEST_SYNC_SECRET_KEY or <data-dir>/${SECRET_KEY_FILE}), or the stored value was altered`,
    );
  }
}

/** Encrypts and decrypts short secrets under one 32-byte key. */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new ConfigError(`the secret key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  /** `aad` names what is encrypted (e.g. `pipeline:7:token`); decrypt must be given the same. */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv, ciphertext, tag]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** Throws SecretDecryptionError on a wrong key, a wrong `aad` or a damaged envelope. */
  decrypt(envelope: string, aad: string): string {
    const parts = envelope.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw new SecretDecryptionError(describe(aad));
    const [iv, ciphertext, tag] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretDecryptionError(describe(aad));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDecryptionError(describe(aad));
    }
  }
}

/** `pipeline:7:token` → `token of pipeline 7`: what a decryption error message names. */
function describe(aad: string): string {
  const [kind, id, field] = aad.split(':');
  return kind && id && field ? `${field} of ${kind} ${id}` : 'stored secret';
}

/**
 * Parses HARVEST_SYNC_SECRET_KEY: 32 bytes as base64/base64url (44 or 43 characters) or hex
 * (64 characters). Anything else is a ConfigError saying how to make one.
 */
export function parseSecretKey(value: string): Buffer {
  const v = value.trim();
  const howTo =
    'HARVEST_SYNC_SECRET_KEY must be 32 random bytes as 64 hex characters or base64 (e.g. `openssl rand -base64 32`)';
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(v)) {
    const key = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new ConfigError(howTo);
}

export interface SecretKeySource {
  readonly dataDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The key secrets are encrypted under: HARVEST_SYNC_SECRET_KEY when set, else `<dataDir>/secret.key`,
 * created (32 random bytes, base64, mode 0600) on first start. The data directory is created if missing.
 */
export function loadSecretKey({ dataDir, env = process.env }: SecretKeySource): Buffer {
  const fromEnv = env.HARVEST_SYNC_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseSecretKey(fromEnv);
  const path = join(dataDir, SECRET_KEY_FILE);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ConfigError(`cannot read the secret key file ${path}: ${(error as Error).message}`);
  }
  if (text !== null) {
    try {
      return parseSecretKey(text);
    } catch {
      throw new ConfigError(`the secret key file ${path} is damaged: it must hold 32 bytes in base64 or hex`);
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // Written under a temporary name then linked into place: a crash never leaves a half-written key,
  // and when two processes start at once the second finds the first's key instead of replacing it.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(temporary, 0o600); // the umask may have narrowed the mode, never widened it; be explicit
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return loadSecretKey({ dataDir, env });
  } finally {
    unlinkSync(temporary);
  }
  return key;
}

/** Below this length a token's last four characters would give too much of it away. */
const HINT_MIN_LENGTH = 12;

/**
 * What is kept of a token to tell it apart later: its last four characters, or nothing for a short
 * one (four of a five-character token is the token).
 */
export function tokenHint(token: string): string {
  return token.length >= HINT_MIN_LENGTH ? token.slice(-4) : '';
}

/** The only form of a token ever shown: `••••abcd` (`••••` alone for a short token). */
export function mask(hint: string): string {
  return `••••${hint.slice(-4)}`;
}
