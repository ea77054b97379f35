import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { HarvestClient, type HarvestClientOptions } from '../../src/harvest/client.js';
import { HarvestApiError } from '../../src/harvest/errors.js';
import type { ClientEvent } from '../../src/harvest/types.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { seeded } from './helpers.js';

/* The client against the team's Harvest simulator: real HTTP, real paging, real faults. */

const sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});

async function simulator(options: SimulatorOptions): Promise<Simulator> {
  const sim = await startSimulator({ scale: 0.01, seed: 3, ...options });
  sims.push(sim);
  return sim;
}

function clientFor(sim: Simulator, extra: Partial<HarvestClientOptions> = {}) {
  return new HarvestClient({
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    random: seeded(5),
    retry: { maxAttempts: 8, baseDelayMs: 5, maxDelayMs: 50 },
    ...extra,
  });
}

async function walk(client: HarvestClient, object: ObjectSpec, perPage: number): Promise<number[]> {
  const ids: number[] = [];
  let url: string | null = client.firstPageUrl(object, { perPage });
  while (url !== null) {
    const page = await client.fetchPage(object, url);
    ids.push(...page.records.map((r) => r.id as number));
    url = page.nextUrl;
  }
  return ids;
}

const idsOf = (sim: Simulator, name: string) => [...sim.records(name)].map((r) => r.id as number);

describe('HarvestClient against the simulator', () => {
  it('reads every object completely, cursor and page endpoints alike', async () => {
    const sim = await simulator({ rateLimit: null });
    const client = clientFor(sim);
    // objects listed per parent or bare (company) are the engine's to read: test/sync/simulator.test.ts
    for (const object of DEFAULT_OBJECTS.filter((o) => !o.parent && !o.singleton)) {
      const ids = await walk(client, object, 7);
      expect(ids, object.name).toEqual(idsOf(sim, object.name));
    }
  });

  it('gets every record through resets, 5xx, truncated and invalid bodies and a 429 burst without Retry-After', async () => {
    const sim = await simulator({
      rateLimit: null,
      faults: {
        seed: 9,
        errorRate: 0.1,
        resetRate: 0.05,
        truncateRate: 0.05,
        invalidJsonRate: 0.05,
        burst429: { count: 2, variant: 'no-retry-after' },
      },
    });
    const events: ClientEvent[] = [];
    const client = clientFor(sim, { retryAfterFallbackMs: 50, onEvent: (e) => events.push(e) });
    const time = DEFAULT_OBJECTS.find((o) => o.name === 'time_entries') as ObjectSpec;
    const ids = await walk(client, time, 10);
    sim.setFaults(null);
    expect(ids).toEqual(idsOf(sim, 'time_entries'));
    const reasons = events.flatMap((e) => (e.type === 'retry' ? [e.reason] : []));
    expect(reasons.some((r) => r.startsWith('429'))).toBe(true);
    expect(reasons.some((r) => /^50[023]/.test(r))).toBe(true);
    expect(client.stats('time_entries').retries).toBe(reasons.length);
  });

  it('draws no 429 when the limit is configured as the simulator enforces it, across concurrent objects', async () => {
    const sim = await simulator({ rateLimit: { requests: 10, windowMs: 300 } });
    // no margin beyond the default (1 ms): holding each slot until its response covers the latency
    const client = clientFor(sim, { rateLimit: { requests: 10, windowMs: 300 } });
    const names = ['time_entries', 'users', 'projects', 'tasks'];
    const objects = DEFAULT_OBJECTS.filter((o) => names.includes(o.name));
    const started = performance.now();
    // small pages: about 60 calls, six windows, mostly one object's pages one after another
    const results = await Promise.all(objects.map((o) => walk(client, o, 2)));
    const elapsed = performance.now() - started;
    objects.forEach((o, i) => expect(results[i]).toEqual(idsOf(sim, o.name)));
    expect(sim.counters.rateLimited).toBe(0);
    const calls = sim.counters.total;
    expect(calls).toBeGreaterThan(50);
    const minimum = Math.floor((calls - 1) / 10) * 300;
    expect(elapsed).toBeGreaterThanOrEqual(minimum);
    expect(elapsed).toBeLessThan(minimum * 1.25 + 300);
  });

  it('learns a limit lower than configured: a few 429s at first, then none', async () => {
    // the documented 429 (Retry-After): the recorded one, without it, would make the client wait 15 s
    const sim = await simulator({ rateLimit: { requests: 10, windowMs: 1000, variant: 'retry-after' } });
    const client = clientFor(sim, { rateLimit: { requests: 20, windowMs: 1000 } });
    const objects = DEFAULT_OBJECTS.filter((o) =>
      ['time_entries', 'users', 'projects', 'tasks'].includes(o.name),
    );
    await Promise.all(objects.map((o) => walk(client, o, 10)));
    const firstRun = sim.counters.rateLimited;
    expect(firstRun).toBeGreaterThan(0);
    // no more than the requests in flight when the first 429 came back
    expect(firstRun).toBeLessThanOrEqual(objects.length);
    expect(client.effectiveRateLimit).toBeLessThanOrEqual(10);
    sim.resetCounters();
    await Promise.all(objects.map((o) => walk(client, o, 10)));
    expect(sim.counters.rateLimited).toBe(0);
  });

  it('checks a member token: readable objects are exactly those open to members', async () => {
    const sim = await simulator({ rateLimit: null });
    const client = clientFor(sim, { token: sim.memberToken });
    const check = await client.checkConnection(DEFAULT_OBJECTS);
    expect(check.isAdmin).toBe(false);
    const readable = check.objects.filter((o) => o.readable).map((o) => o.name);
    expect(readable).toEqual(DEFAULT_OBJECTS.filter((o) => o.access === 'member').map((o) => o.name));
    for (const o of check.objects.filter((x) => !x.readable))
      expect(o.reason).toMatch(/^this token may not read/);

    const admin = await clientFor(sim).checkConnection(DEFAULT_OBJECTS);
    expect(admin.isAdmin).toBe(true);
    expect(admin.objects.every((o) => o.readable)).toBe(true);
  });

  it('fails with HARVEST_UNAUTHORIZED when the token is revoked mid-walk', async () => {
    const sim = await simulator({ rateLimit: null, faults: { revokeAfterPages: 2 } });
    const client = clientFor(sim);
    const time = DEFAULT_OBJECTS.find((o) => o.name === 'time_entries') as ObjectSpec;
    const error = await walk(client, time, 5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HarvestApiError);
    expect((error as HarvestApiError).code).toBe('HARVEST_UNAUTHORIZED');
    expect((error as HarvestApiError).message).not.toContain(sim.adminToken);
  });
});
