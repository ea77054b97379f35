import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { RateLimitVariant, Simulator } from '../../src/simulator/index.js';
import { USER_AGENT, get, listPath, walk } from './helpers.js';
import { TestClock } from '../support/clock.js';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    scale: 0.05,
    seed: 5,
    rateLimit: null,
    adminToken: 'adm',
    memberToken: 'mem',
    accountId: '42',
  });
});
afterAll(() => sim.stop());
afterEach(() => sim.setRateLimit(null));

const INVALID = {
  error: 'invalid_token',
  error_description: 'The access token provided is expired, revoked, malformed or invalid for other reasons.',
};

describe('authentication', () => {
  it('answers 401 invalid_token with WWW-Authenticate for a bad token, a missing or wrong account id', async () => {
    const cases: Record<string, string>[] = [
      { Authorization: 'Bearer nope', 'Harvest-Account-Id': '42', 'User-Agent': USER_AGENT },
      { Authorization: 'Bearer adm', 'User-Agent': USER_AGENT },
      { Authorization: 'Bearer adm', 'Harvest-Account-Id': '43', 'User-Agent': USER_AGENT },
      { 'Harvest-Account-Id': '42', 'User-Agent': USER_AGENT },
    ];
    for (const headers of cases) {
      const res = await get(sim, '/v2/users/me', { headers });
      expect(res.status).toBe(401);
      expect(res.json).toEqual(INVALID);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="Rack::OAuth2 Protected Resources", error="invalid_token"/,
      );
    }
  });

  it('accepts the token and account id in the query string', async () => {
    const res = await get(sim, '/v2/users/me?access_token=adm&account_id=42', {
      headers: { 'User-Agent': USER_AGENT },
    });
    expect(res.status).toBe(200);
  });

  it('answers 400 without a User-Agent', async () => {
    const res = await get(sim, '/v2/users/me', {
      headers: { Authorization: 'Bearer adm', 'Harvest-Account-Id': '42', 'User-Agent': '' },
    });
    expect(res.status).toBe(400);
  });

  it('tells each token who it is', async () => {
    const admin = await get(sim, '/v2/users/me');
    const member = await get(sim, '/v2/users/me', { token: 'mem' });
    expect(admin.json.access_roles).toEqual(['administrator']);
    expect(member.json.access_roles).toEqual(['member']);
    expect(member.json.id).not.toBe(admin.json.id);
    expect('cost_rate' in member.json).toBe(false);
  });

  it('gives the member 403 Not authorized! on every object above its role, and data on the others', async () => {
    const me = (await get(sim, '/v2/users/me', { token: 'mem' })).json.id;
    for (const spec of DEFAULT_OBJECTS.filter((o) => !o.singleton)) {
      const res = await get(sim, listPath(sim, spec, new Set([me])), { token: 'mem' });
      if (spec.access === 'member') {
        expect(res.status, spec.name).toBe(200);
      } else {
        expect(res.status, spec.name).toBe(403);
        expect(res.json).toEqual({ message: 'Not authorized!' });
      }
    }
    expect((await get(sim, '/v2/company', { token: 'mem' })).status).toBe(200);
  });

  it('shows the member only their own time entries and expenses', async () => {
    const me = (await get(sim, '/v2/users/me', { token: 'mem' })).json.id;
    for (const object of ['time_entries', 'expenses']) {
      const own = await walk(sim, `/v2/${object}?per_page=100`, object, 'mem');
      const all = (await get(sim, `/v2/${object}?per_page=1`)).json.total_entries as number;
      expect(own.records.length).toBeGreaterThan(0);
      expect(own.records.length).toBeLessThan(all);
      expect(own.records.every((r) => (r.user as JsonObject).id === me)).toBe(true);
      expect(own.pages[0].total_entries).toBe(own.records.length);
    }
  });

  it('refuses a revoked token from then on', async () => {
    const other = await startSimulator({ scale: 0.02, rateLimit: null });
    try {
      expect((await get(other, '/v2/users/me')).status).toBe(200);
      other.revoke(other.adminToken);
      expect((await get(other, '/v2/users/me')).status).toBe(401);
      expect((await get(other, '/v2/users/me', { token: other.memberToken })).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});

describe('rate limiting', () => {
  it('allows the configured number of requests per window, then 429 with Retry-After in whole seconds', async () => {
    sim.setRateLimit({ requests: 3, windowMs: 10_000, variant: 'retry-after' });
    const statuses = [];
    for (let k = 0; k < 4; k++) statuses.push((await get(sim, '/v2/company')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await get(sim, '/v2/company');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(9);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(10);
  });

  it('lets requests through again once the oldest leaves the rolling window', async () => {
    sim.setRateLimit({ requests: 2, windowMs: 200 });
    expect((await get(sim, '/v2/company')).status).toBe(200);
    expect((await get(sim, '/v2/company')).status).toBe(200);
    expect((await get(sim, '/v2/company')).status).toBe(429);
    // the window is time itself: nothing to await but its end
    await new Promise((r) => setTimeout(r, 220));
    expect((await get(sim, '/v2/company')).status).toBe(200);
  });

  it('counts a default of 100 requests per 15 s, then answers as Harvest was recorded: empty text/html, no Retry-After', async () => {
    const fresh = await startSimulator({ scale: 0.02 });
    try {
      let ok = 0;
      let res;
      do {
        res = await get(fresh, '/v2/company');
        if (res.status === 200) ok++;
      } while (res.status === 200 && ok < 200);
      expect(ok).toBe(100);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.headers.get('content-type')).toBe('text/html');
      expect(res.text).toBe('');
      expect(fresh.counters.rateLimited).toBe(1);
    } finally {
      await fresh.stop();
    }
  });

  it("measures the window on the simulator's clock, not the machine's", async () => {
    const clock = new TestClock({ start: '2026-03-01T09:00:00Z', sleeps: 'ignore' });
    const timed = await startSimulator({ scale: 0.02, clock, rateLimit: { requests: 2, windowMs: 60 } });
    try {
      expect((await get(timed, '/v2/company')).status).toBe(200);
      expect((await get(timed, '/v2/company')).status).toBe(200);
      expect((await get(timed, '/v2/company')).status).toBe(429);
      // real time passing frees nothing while the simulator's clock stands still
      await new Promise((r) => setTimeout(r, 100));
      expect((await get(timed, '/v2/company')).status).toBe(429);
      clock.advance(59);
      expect((await get(timed, '/v2/company')).status).toBe(429);
      clock.advance(1);
      expect((await get(timed, '/v2/company')).status).toBe(200);
    } finally {
      await timed.stop();
    }
  });

  const variants: [RateLimitVariant, (res: Awaited<ReturnType<typeof get>>) => void][] = [
    ['retry-after', (res) => expect(res.headers.get('retry-after')).toMatch(/^\d+$/)],
    [
      'no-retry-after',
      (res) => {
        expect(res.headers.get('retry-after')).toBeNull();
        expect(res.text).toBe('');
        expect(res.headers.get('content-type')).toBe('text/html');
      },
    ],
    ['html', (res) => expect(res.text).toContain('<html>')],
    [
      'empty',
      (res) => {
        expect(res.text).toBe('');
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      },
    ],
  ];
  for (const [variant, check] of variants) {
    it(`sends the ${variant} kind of 429 when configured so`, async () => {
      sim.setRateLimit({ requests: 1, windowMs: 60_000, variant });
      expect((await get(sim, '/v2/company')).status).toBe(200);
      const res = await get(sim, '/v2/company');
      expect(res.status).toBe(429);
      check(res);
    });
  }
});
