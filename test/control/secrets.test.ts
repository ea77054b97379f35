import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SecretBox,
  SecretDecryptionError,
  loadSecretKey,
  mask,
  parseSecretKey,
  tokenHint,
} from '../../src/control/secrets.js';

describe('secret envelope', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips a value and never leaves it readable in the envelope', () => {
    const envelope = box.encrypt('pat-1234567890', 'pipeline:1:token');
    expect(envelope).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(envelope).not.toContain('pat-1234567890');
    expect(box.decrypt(envelope, 'pipeline:1:token')).toBe('pat-1234567890');
    // A fresh IV each time: the same token never gives the same envelope twice.
    expect(box.encrypt('pat-1234567890', 'pipeline:1:token')).not.toBe(envelope);
  });

  it('refuses an envelope moved to another pipeline or field (AAD binding)', () => {
    const envelope = box.encrypt('pat-1234567890', 'pipeline:1:token');
    expect(() => box.decrypt(envelope, 'pipeline:2:token')).toThrow(SecretDecryptionError);
    expect(() => box.decrypt(envelope, 'pipeline:1:destination')).toThrow(SecretDecryptionError);
  });

  it('says the key is wrong, not what the secret was, when decrypting under another key or a damaged envelope', () => {
    const envelope = box.encrypt('pat-1234567890', 'pipeline:7:token');
    const other = new SecretBox(randomBytes(32));
    expect(() => other.decrypt(envelope, 'pipeline:7:token')).toThrow(
      /^cannot decrypt the token of pipeline 7: the secret key is not the one it was stored with/,
    );
    const parts = envelope.split('.');
    const flipped = Buffer.from(parts[2], 'base64url');
    flipped[0] ^= 1;
    const tampered = [parts[0], parts[1], flipped.toString('base64url'), parts[3]].join('.');
    expect(() => box.decrypt(tampered, 'pipeline:7:token')).toThrow(SecretDecryptionError);
    expect(() => box.decrypt('not-an-envelope', 'pipeline:7:token')).toThrow(SecretDecryptionError);
  });

  it('masks a token to its last four characters', () => {
    expect(mask('pat-1234567890abcd')).toBe('••••abcd');
    expect(mask('abcd')).toBe('••••abcd');
  });

  it('keeps the last four characters only of a token long enough that they give little away', () => {
    expect(tokenHint('pat-1234567890abcd')).toBe('abcd');
    expect(tokenHint('tok')).toBe('');
    expect(tokenHint('eleven-char')).toBe('');
    expect(tokenHint('twelve-chars')).toBe('hars');
    expect(mask(tokenHint('tok'))).toBe('••••');
  });
});

describe('secret key', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'hs-key-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reads HARVEST_SYNC_SECRET_KEY as hex, base64 or base64url of 32 bytes', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString('hex'))).toEqual(key);
    expect(parseSecretKey(key.toString('base64'))).toEqual(key);
    expect(parseSecretKey(` ${key.toString('base64url')}\n`)).toEqual(key);
    expect(loadSecretKey({ dataDir, env: { HARVEST_SYNC_SECRET_KEY: key.toString('hex') } })).toEqual(key);
  });

  it.each([
    ['too short', randomBytes(16).toString('hex')],
    ['a passphrase', 'correct horse battery staple'],
    ['31 bytes of base64', randomBytes(31).toString('base64')],
    ['hex with a stray character', randomBytes(32).toString('hex').slice(0, 63) + 'g'],
  ])('refuses a key that is %s, saying how to make one', (_label, value) => {
    expect(() => loadSecretKey({ dataDir, env: { HARVEST_SYNC_SECRET_KEY: value } })).toThrow(
      'HARVEST_SYNC_SECRET_KEY must be 32 random bytes as 64 hex characters or base64 (e.g. `openssl rand -base64 32`)',
    );
  });

  it('creates a key file with mode 0600 on first start and reuses it after', () => {
    const first = loadSecretKey({ dataDir: join(dataDir, 'home'), env: {} });
    const path = join(dataDir, 'home', 'secret.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')).toEqual(first);
    expect(loadSecretKey({ dataDir: join(dataDir, 'home'), env: {} })).toEqual(first);
  });

  it('refuses a damaged key file instead of making a new key', () => {
    loadSecretKey({ dataDir, env: {} });
    const path = join(dataDir, 'secret.key');
    writeFileSync(path, 'garbage\n');
    expect(() => loadSecretKey({ dataDir, env: {} })).toThrow(/secret key file .* is damaged/);
    expect(readFileSync(path, 'utf8')).toBe('garbage\n');
  });
});
