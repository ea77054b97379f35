import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Auth,
  Backoff,
  SessionStore,
  fileCredentialStore,
  hashPassword,
  memoryCredentialStore,
  verifyPassword,
} from '../../src/server/auth.js';
import { TestClock } from '../support/clock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('admin password hashing', () => {
  it('stores a salted scrypt hash with its parameters and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatchObject({ algorithm: 'scrypt', N: 32768, r: 8, p: 1, keyLength: 64 });
    expect(JSON.stringify(hash)).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', hash)).toBe(false);
    const again = await hashPassword('correct horse battery staple');
    expect(again.salt).not.toBe(hash.salt);
    expect(again.hash).not.toBe(hash.hash);
  });

  it('refuses passwords shorter than 12 characters', async () => {
    const auth = new Auth({ credentials: memoryCredentialStore() });
    await expect(auth.setAdminPassword('short')).rejects.toThrow(/at least 12 characters/);
    expect(auth.hasAdminPassword()).toBe(false);
  });

  it('keeps credentials in an owner-only file without the password or token in clear', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-auth-'));
    dirs.push(dir);
    const auth = new Auth({ credentials: fileCredentialStore(dir) });
    await auth.setAdminPassword('a long enough password');
    const token = auth.rotateApiToken();
    const file = join(dir, 'credentials.json');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('a long enough password');
    expect(text).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // a second process reading the same directory accepts both
    const reopened = new Auth({ credentials: fileCredentialStore(dir) });
    expect(reopened.verifyApiToken(token)).toBe(true);
    expect(reopened.verifyApiToken(token + 'x')).toBe(false);
    expect((await reopened.login('a long enough password', 'ip')).ok).toBe(true);
  });
});

describe('API token', () => {
  it('takes a token from the environment, refusing one too short to be safe', () => {
    expect(() => new Auth({ credentials: memoryCredentialStore(), apiToken: 'short' })).toThrow(
      /at least 32/,
    );
    const token = 'x'.repeat(40);
    const auth = new Auth({ credentials: memoryCredentialStore(), apiToken: token });
    expect(auth.verifyApiToken(token)).toBe(true);
    expect(auth.verifyApiToken('y'.repeat(40))).toBe(false);
  });

  it('accepts nothing before a token exists', () => {
    const auth = new Auth({ credentials: memoryCredentialStore() });
    expect(auth.hasApiToken()).toBe(false);
    expect(auth.verifyApiToken('')).toBe(false);
  });
});

describe('sessions', () => {
  it('end after the idle timeout and after the absolute lifetime', () => {
    const clock = new TestClock({ sleeps: 'ignore' });
    const sessions = new SessionStore(clock, { ttlMs: 10_000, idleMs: 4_000 });
    const idle = sessions.create();
    clock.advance(4_000);
    expect(sessions.get(idle.id)).toBeNull();

    const busy = sessions.create();
    for (let i = 0; i < 3; i++) {
      clock.advance(3_000);
      expect(sessions.get(busy.id)).not.toBeNull();
    }
    clock.advance(1_000);
    expect(sessions.get(busy.id)).toBeNull();
  });

  it('drop the oldest beyond the bound so memory stays bounded', () => {
    const sessions = new SessionStore(new TestClock({ sleeps: 'ignore' }), { maxSessions: 3 });
    const ids = Array.from({ length: 5 }, () => sessions.create().id);
    expect(sessions.size).toBe(3);
    expect(sessions.get(ids[0])).toBeNull();
    expect(sessions.get(ids[4])).not.toBeNull();
  });

  it('all end when the password changes', async () => {
    const auth = new Auth({ credentials: memoryCredentialStore() });
    await auth.setAdminPassword('first password 123');
    const login = await auth.login('first password 123', 'ip');
    if (!login.ok) throw new Error('login failed');
    await auth.setAdminPassword('second password 456');
    expect(auth.session(login.sessionId)).toBeNull();
  });
});

describe('login back-off', () => {
  it('lets the free attempts through, then doubles the wait up to its cap, per key', () => {
    const clock = new TestClock({ sleeps: 'ignore' });
    const backoff = new Backoff(clock, { free: 3, baseMs: 1000, maxMs: 4000, forgetMs: 60_000 });
    for (let i = 0; i < 2; i++) backoff.count('a');
    expect(backoff.waitMs('a')).toBe(0);
    backoff.count('a');
    expect(backoff.waitMs('a')).toBe(1000);
    expect(backoff.waitMs('b')).toBe(0);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(backoff.waitMs('a'));
      backoff.count('a');
      waits.push(backoff.waitMs('a'));
    }
    expect(waits).toEqual([2000, 4000, 4000, 4000]);
    // forgotten after a quiet spell
    clock.advance(60_000);
    backoff.count('a');
    expect(backoff.waitMs('a')).toBe(0);
  });

  it('takes back an attempt that turned out right, unless others were counted since', () => {
    const clock = new TestClock({ sleeps: 'ignore' });
    const backoff = new Backoff(clock, { free: 2, baseMs: 1000, maxMs: 60_000, forgetMs: 60_000 });
    backoff.count('k');
    const undo = backoff.count('k');
    expect(backoff.waitMs('k')).toBe(1000);
    undo();
    expect(backoff.waitMs('k')).toBe(0);
    const late = backoff.count('k');
    clock.advance(1000);
    backoff.count('k');
    late();
    // one of the two counted since is taken back: one failure past the allowance remains
    expect(backoff.waitMs('k')).toBe(1000);
  });

  it('refuses even the right password while waiting, and lets it in after', async () => {
    const clock = new TestClock({ sleeps: 'ignore' });
    const auth = new Auth({ credentials: memoryCredentialStore(), clock });
    await auth.setAdminPassword('the right password');
    for (let i = 0; i < 5; i++) expect((await auth.login('wrong password!', 'ip')).ok).toBe(false);
    expect(await auth.login('the right password', 'ip')).toMatchObject({ ok: false, reason: 'rate-limited' });
    clock.advance(1000);
    expect((await auth.login('the right password', 'ip')).ok).toBe(true);
  });
});
