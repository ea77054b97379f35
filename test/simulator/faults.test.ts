import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Faults, RateLimitVariant, Simulator } from '../../src/simulator/index.js';
import { get, headers } from './helpers.js';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.02, seed: 9, rateLimit: null });
});
afterAll(() => sim.stop());
afterEach(() => sim.setFaults(null));

describe('faults', () => {
  it('answers 500, 502 or 503 with a body at errorRate 1', async () => {
    sim.setFaults({ errorRate: 1, seed: 1 });
    const seen = new Set<number>();
    for (let k = 0; k < 12; k++) {
      const res = await get(sim, '/v2/clients');
      expect([500, 502, 503]).toContain(res.status);
      expect(res.text.length).toBeGreaterThan(0);
      seen.add(res.status);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('resets the connection at resetRate 1', async () => {
    sim.setFaults({ resetRate: 1 });
    await expect(fetch(`${sim.url}/v2/clients`, { headers: headers(sim) })).rejects.toThrow();
    expect(sim.counters.byStatus.reset).toBeGreaterThan(0);
  });

  it('cuts the body short of its Content-Length at truncateRate 1', async () => {
    sim.setFaults({ truncateRate: 1 });
    const res = await fetch(`${sim.url}/v2/clients`, { headers: headers(sim) });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('sends a 200 whose body is not JSON at invalidJsonRate 1', async () => {
    sim.setFaults({ invalidJsonRate: 1 });
    const res = await fetch(`${sim.url}/v2/clients`, { headers: headers(sim) });
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('delays the answer by slowMs at slowRate 1', async () => {
    sim.setFaults({ slowRate: 1, slowMs: 150 });
    const started = performance.now();
    expect((await get(sim, '/v2/company')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });

  for (const variant of ['retry-after', 'no-retry-after', 'html', 'empty'] as RateLimitVariant[]) {
    it(`sends a burst of ${variant} 429s, then serves again`, async () => {
      sim.setFaults({ burst429: { count: 2, variant } });
      const statuses = [];
      for (let k = 0; k < 3; k++) statuses.push((await get(sim, '/v2/company')).status);
      expect(statuses).toEqual([429, 429, 200]);
    });
  }

  it('points links.next back at the first page forever with loopNext', async () => {
    sim.setFaults({ loopNext: 'tasks' });
    const first = await get(sim, '/v2/tasks?per_page=2');
    const links = first.json.links as JsonObject;
    expect(links.next).toBe(links.first);
    const again = await get(sim, links.next as string);
    expect((again.json.links as JsonObject).next).toBe(links.first);
    expect((await get(sim, '/v2/users?per_page=2')).json.links).not.toHaveProperty('next', links.first);
  });

  it('sends one record without its id, once, with dropIdOnce', async () => {
    sim.setFaults({ dropIdOnce: 'time_entries' });
    const first = (await get(sim, '/v2/time_entries?per_page=3')).json.time_entries as JsonObject[];
    expect(first.filter((r) => !('id' in r))).toHaveLength(1);
    const second = (await get(sim, '/v2/time_entries?per_page=3')).json.time_entries as JsonObject[];
    expect(second.every((r) => 'id' in r)).toBe(true);
  });

  it('starts refusing the admin token after revokeAfterPages list pages', async () => {
    sim.resetCounters();
    sim.setFaults({ revokeAfterPages: 2 });
    expect((await get(sim, '/v2/tasks')).status).toBe(200);
    expect((await get(sim, '/v2/users')).status).toBe(200);
    const third = await get(sim, '/v2/users');
    expect(third.status).toBe(401);
    expect(third.json.error).toBe('invalid_token');
  });

  it('meets the same faults in the same order under the same seed', async () => {
    const faults: Faults = { seed: 77, errorRate: 0.3, slowRate: 0 };
    const run = async () => {
      const s = await startSimulator({ scale: 0.02, rateLimit: null, faults });
      try {
        const statuses = [];
        for (let k = 0; k < 30; k++) statuses.push((await get(s, '/v2/company')).status);
        return statuses;
      } finally {
        await s.stop();
      }
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(a.filter((s) => s !== 200).length).toBeGreaterThan(2);
    expect(a).toContain(200);
  });

  it('never faults the /_simulator routes', async () => {
    sim.setFaults({ errorRate: 1, resetRate: 1 });
    const res = await fetch(`${sim.url}/_simulator/counters`, {
      headers: { Authorization: `Bearer ${sim.adminToken}` },
    });
    expect(res.status).toBe(200);
  });
});
