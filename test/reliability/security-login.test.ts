import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT_BACKOFF, CLIENT_BACKOFF } from '../../src/server/auth.js';
import { limitKeyOfAddress } from '../../src/server/middleware.js';
import { appHarness, request } from './support/security.js';
import type { AppHarness, Reply } from './support/security.js';

/*
 * Issue 15, login limiting. A hostile visitor found that the limit was checked before the slow
 * password hash and failures counted after it, so 100 guesses sent at once were all tried; that five
 * wrong logins from the admin's own address locked the admin out; and that a new source address got
 * five fresh tries. Here: guesses sent at once, from one address and from hundreds, and the admin
 * coming back through it all.
 */

let h: AppHarness;
beforeEach(async () => {
  h = await appHarness();
});
afterEach(() => h.close());

function login(password: string, client: string, cookie?: string): Promise<Reply> {
  return request(h, '/api/login', {
    method: 'POST',
    json: { password },
    headers: { 'x-test-client': client, ...(cookie ? { cookie } : {}) },
  });
}

const statuses = (replies: readonly Reply[]) => {
  const counts: Record<number, number> = {};
  for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

/** The device cookie a successful login sets (the browser keeps it after logout). */
function deviceCookie(reply: Reply): string {
  const cookie = reply.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('hs_device='));
  if (!cookie) throw new Error(`no device cookie in ${reply.headers.getSetCookie().join(' | ')}`);
  return cookie;
}

describe('guesses sent at once', () => {
  it('tries at most the free allowance of 100 simultaneous guesses from one address', async () => {
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => login(`wrong guess ${i}`, 'attacker')),
    );
    // 401 = the password was checked and was wrong; 429 = refused before any check
    expect(statuses(replies)).toEqual({ 401: CLIENT_BACKOFF.free, 429: 100 - CLIENT_BACKOFF.free });
    const refused = replies.find((r) => r.status === 429)!;
    expect(refused.body.error.message).toMatch(/too many failed logins; try again in \d+ s/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('bounds the guesses of hundreds of addresses at once by the per-account allowance', async () => {
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => login(`wrong guess ${i}`, `10.0.${i >> 8}.${i & 255}`)),
    );
    expect(statuses(replies)).toEqual({ 401: ACCOUNT_BACKOFF.free, 429: 300 - ACCOUNT_BACKOFF.free });
  });

  it('counts the change-password form in the same limit', async () => {
    const { cookie, csrf } = await session();
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request(h, '/api/password', {
          method: 'POST',
          json: { currentPassword: `wrong ${i}`, newPassword: 'a brand new password' },
          headers: { cookie, 'x-csrf-token': csrf, 'x-test-client': 'thief' },
        }),
      ),
    );
    expect(statuses(replies)).toEqual({ 403: CLIENT_BACKOFF.free, 429: 50 - CLIENT_BACKOFF.free });
  });
});

describe('an hour of rotating addresses', () => {
  it('lets at most a bounded number of guesses through, growing the wait exponentially', async () => {
    let tried = 0;
    let address = 0;
    const waits: number[] = [];
    // every 5 s for an hour, a burst of 5 guesses from 5 new addresses
    for (let second = 0; second < 3600; second += 5) {
      const burst = await Promise.all(
        Array.from({ length: 5 }, () => login('wrong again', `addr-${address++}`)),
      );
      tried += burst.filter((r) => r.status === 401).length;
      const refused = burst.find((r) => r.status === 429);
      if (refused) waits.push(Number(refused.headers.get('retry-after')));
      h.clock.advance(5000);
    }
    const maxWait = ACCOUNT_BACKOFF.maxMs / 1000;
    // the free allowance, then one guess per doubling wait, then one per maximum wait
    expect(tried).toBeLessThanOrEqual(ACCOUNT_BACKOFF.free + 8 + 3600 / maxWait);
    expect(tried).toBeGreaterThan(ACCOUNT_BACKOFF.free);
    expect(Math.max(...waits)).toBe(maxWait);
  });
});

describe('the admin through an attack', () => {
  it('gets in from a locked-out address once the back-off has passed, with no hard lockout', async () => {
    for (let i = 0; i < CLIENT_BACKOFF.free; i++)
      expect((await login(`wrong ${i}`, 'shared-nat')).status).toBe(401);
    const blocked = await login(h.password, 'shared-nat');
    expect(blocked.status).toBe(429);
    const wait = Number(blocked.headers.get('retry-after'));
    expect(wait).toBe(CLIENT_BACKOFF.baseMs / 1000);
    h.clock.advance(wait * 1000);
    expect((await login(h.password, 'shared-nat')).status).toBe(200);
  });

  it('is never held back in a browser that logged in before, whoever fails from any address', async () => {
    const first = await login(h.password, 'admin-laptop');
    expect(first.status).toBe(200);
    const device = deviceCookie(first);
    expect(first.headers.getSetCookie().find((c) => c.startsWith('hs_device='))).toMatch(
      /HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/,
    );
    // the attacker, from the admin's own address and from 300 others, all at once
    await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => login(`guess ${i}`, 'admin-laptop')),
      ...Array.from({ length: 300 }, (_, i) => login(`guess ${i}`, `rotating-${i}`)),
    ]);
    expect((await login(h.password, 'admin-laptop')).status).toBe(429);
    expect((await login(h.password, 'admin-laptop', device)).status).toBe(200);
    // a forged or stale device cookie is worth nothing
    expect((await login(h.password, 'admin-laptop', `${device.slice(0, -3)}abc`)).status).toBe(429);
  });

  it('waits at most the per-account maximum on a new device while the attack goes on', async () => {
    await Promise.all(Array.from({ length: 300 }, (_, i) => login(`guess ${i}`, `rotating-${i}`)));
    // the attack keeps going, and the account's wait grows to its cap but no further
    let last: Reply | null = null;
    for (let i = 0; i < 40; i++) {
      h.clock.advance(ACCOUNT_BACKOFF.maxMs);
      last = await login(`guess again ${i}`, `rotating-more-${i}`);
    }
    expect(last?.status).toBe(401);
    const refused = await login(h.password, 'admin-phone');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(ACCOUNT_BACKOFF.maxMs / 1000);
    h.clock.advance(Number(refused.headers.get('retry-after')) * 1000);
    expect((await login(h.password, 'admin-phone')).status).toBe(200);
  });

  it('does not let refused attempts stretch the back-off', async () => {
    for (let i = 0; i < CLIENT_BACKOFF.free; i++) await login(`wrong ${i}`, 'impatient');
    for (let i = 0; i < 100; i++) await login(`hammering ${i}`, 'impatient');
    h.clock.advance(CLIENT_BACKOFF.baseMs);
    expect((await login(h.password, 'impatient')).status).toBe(200);
  });
});

async function session(): Promise<{ cookie: string; csrf: string }> {
  const res = await login(h.password, 'owner');
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('hs_session='))!;
  return { cookie, csrf: res.body.csrfToken as string };
}

describe('what counts as one address', () => {
  it('is an IPv4 address (also when mapped into IPv6), or an IPv6 address by its /64', () => {
    expect(limitKeyOfAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(limitKeyOfAddress('::ffff:203.0.113.9')).toBe('203.0.113.9');
    // one host usually holds a whole /64: rotating within it gets no fresh tries
    expect(limitKeyOfAddress('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(limitKeyOfAddress('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe('2001:db8:1:2::/64');
    expect(limitKeyOfAddress('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(limitKeyOfAddress('::1')).toBe('0:0:0:0::/64');
  });
});
