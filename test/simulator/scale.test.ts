import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get } from './helpers.js';

let sim: Simulator;
let startMs = 0;
let heapBefore = 0;

beforeAll(async () => {
  heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  sim = await startSimulator({ scale: 100, seed: 4, rateLimit: null });
  startMs = performance.now() - t0;
});
afterAll(() => sim.stop());

const ids = (page: JsonObject) => (page.time_entries as JsonObject[]).map((r) => r.id as number);

describe('a simulator of 1,000,000 time entries', () => {
  it('starts in well under a second', () => {
    expect(startMs).toBeLessThan(1000);
  });

  it('serves a deep page quickly without holding the object in memory', async () => {
    const t0 = performance.now();
    const page = await get(sim, '/v2/time_entries?per_page=2000&page=400');
    const ms = performance.now() - t0;
    expect(page.json.total_entries).toBe(1_000_000);
    expect(page.json.total_pages).toBe(500);
    expect(ids(page.json)).toHaveLength(2000);
    expect(ms).toBeLessThan(1500);
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(heapMb).toBeLessThan(200);
  });

  it('narrows to a date range by index, not by scanning', async () => {
    const t0 = performance.now();
    const page = await get(sim, '/v2/time_entries?per_page=100&from=2024-02-01&to=2024-02-29');
    expect(performance.now() - t0).toBeLessThan(500);
    const entries = page.json.time_entries as JsonObject[];
    expect(
      entries.every(
        (e) => (e.spent_date as string) >= '2024-02-01' && (e.spent_date as string) <= '2024-02-29',
      ),
    ).toBe(true);
    expect(page.json.total_entries as number).toBeGreaterThan(20_000);
  });

  it('keeps deep pages exact after changes, by both the positional and the scanning path', async () => {
    const before = await get(sim, '/v2/time_entries?per_page=1000&page=300');
    const victims = ids(before.json).slice(0, 3);
    for (const id of victims) sim.remove('time_entries', id);
    sim.create('time_entries', { spent_date: '2024-01-10' });
    const direct = await get(sim, '/v2/time_entries?per_page=1000&page=300');
    const scanned = await get(
      sim,
      '/v2/time_entries?per_page=1000&page=300&updated_since=2000-01-01T00:00:00Z',
    );
    expect(direct.json.total_entries).toBe(1_000_000 - 3 + 1);
    expect(ids(direct.json)).toEqual(ids(scanned.json));
    for (const id of victims) expect(ids(direct.json)).not.toContain(id);
    const since = await get(sim, '/v2/time_entries?updated_since=2026-01-01T00:00:00Z');
    expect(since.json.total_entries).toBe(1);
  });
});
