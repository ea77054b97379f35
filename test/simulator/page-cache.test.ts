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

  it('serves a report page again until a time entry changes, then the new sums', async () => {
    const entry = [...sim.records('time_entries')][0];
    const year = String(entry.spent_date).slice(0, 4);
    const url = `/v2/reports/time/clients?from=${year}0101&to=${year}1231&per_page=2000`;
    const first = await get(sim, url);
    expect((await get(sim, url)).text).toBe(first.text);
    sim.update('time_entries', entry.id as number, { hours: (entry.hours as number) + 100 });
    const after = await get(sim, url);
    const total = (page: typeof first) =>
      (page.json.results as Array<{ total_hours: number }>).reduce((sum, row) => sum + row.total_hours, 0);
    expect(total(after) - total(first)).toBeCloseTo(100, 1);
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
