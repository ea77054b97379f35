import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get } from './helpers.js';

/** The bench's source: pages served again as first serialised, until something changes. */
describe('simulator with cachePages', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ scale: 0.05, seed: 3, rateLimit: null, cachePages: true });
  });
  afterAll(() => sim.stop());

  it('answers a list URL with the same bytes again, counted like any page', async () => {
    sim.resetCounters();
    const first = await get(sim, '/v2/time_entries?per_page=50&page=2');
    const again = await get(sim, '/v2/time_entries?per_page=50&page=2');
    expect(first.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('content-length')).toBe(first.headers.get('content-length'));
    expect(sim.counters.listPages).toBe(2);
    expect(sim.counters.total).toBe(2);
  });

  it('serves each token role and URL its own page', async () => {
    const admin = await get(sim, '/v2/time_entries?per_page=50');
    const member = await get(sim, '/v2/time_entries?per_page=50', { token: sim.memberToken });
    const other = await get(sim, '/v2/time_entries?per_page=49');
    expect(member.json.total_entries).toBeLessThan(admin.json.total_entries as number);
    expect(other.json.per_page).toBe(49);
  });

  it('serves a changed record at once: any change empties the cache', async () => {
    const before = await get(sim, '/v2/clients?per_page=5');
    const id = (before.json.clients as Array<{ id: number }>)[0].id;
    sim.update('clients', id, { name: 'Renamed while cached' });
    const after = await get(sim, '/v2/clients?per_page=5');
    expect(after.text).not.toBe(before.text);
    expect((after.json.clients as Array<{ name: string }>)[0].name).toBe('Renamed while cached');
  });

  it('does not cache while faults are set, so a fault never sticks to a URL', async () => {
    sim.setFaults({ dropIdOnce: 'projects' });
    const dropped = await get(sim, '/v2/projects?per_page=5');
    expect((dropped.json.projects as Array<{ id?: number }>)[0].id).toBeUndefined();
    sim.setFaults(null);
    const clean = await get(sim, '/v2/projects?per_page=5');
    expect((clean.json.projects as Array<{ id?: number }>)[0].id).toEqual(expect.any(Number));
  });
});
