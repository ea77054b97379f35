import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { OBJECTS } from '../../src/catalog/objects.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { readJsonFixture } from '../support/fixtures.js';
import { get } from './helpers.js';
import { TestClock } from '../support/clock.js';

/*
 * Harvest's reports in the simulator: the documented shapes (examples written from the docs), the
 * required window, who may read which, figures that agree with the records they sum, and a budget
 * of 100 requests per 15 minutes of their own.
 */

const REPORTS = OBJECTS.filter((o) => o.report !== undefined);
const WINDOW = 'from=20240101&to=20241231';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.05, seed: 4, rateLimit: null });
});
afterAll(() => sim.stop());

const pathOf = (endpoint: string, window = WINDOW) =>
  endpoint.endsWith('project_budget') ? endpoint : `${endpoint}?${window}`;
const keysOf = (rows: JsonObject[]) => [...new Set(rows.flatMap((r) => Object.keys(r)))].sort();

describe('reports', () => {
  for (const spec of REPORTS) {
    it(`${spec.name}: the documented keys and envelope`, async () => {
      const example = readJsonFixture<JsonObject>(`harvest-examples/${spec.name}.json`);
      const res = await get(sim, pathOf(spec.endpoint));
      expect(res.status, spec.name).toBe(200);
      const rows = res.json.results as JsonObject[];
      expect(rows.length, spec.name).toBeGreaterThan(0);
      expect(keysOf(rows)).toEqual(keysOf(example.results as JsonObject[]));
      expect(Object.keys(res.json).sort()).toEqual(Object.keys(example).sort());
    });
  }

  it('wants a window: 422 without from and to, and for a time report longer than a year', async () => {
    const none = await get(sim, '/v2/reports/time/clients');
    expect(none.status).toBe(422);
    expect(none.json.message).toMatch(/from and to/);
    expect((await get(sim, '/v2/reports/time/clients?from=20220101&to=20231231')).status).toBe(422);
    expect((await get(sim, '/v2/reports/time/clients?from=2024-01-01&to=2024-12-31')).status).toBe(200);
  });

  it('sums the records of the window: total hours per client equal the time entries’', async () => {
    const rows = (await get(sim, pathOf('/v2/reports/time/clients'))).json.results as JsonObject[];
    const hours = new Map<unknown, number>();
    for (const e of sim.records('time_entries')) {
      const day = e.spent_date as string;
      if (day < '2024-01-01' || day > '2024-12-31') continue;
      const client = (e.client as JsonObject).id;
      hours.set(client, (hours.get(client) ?? 0) + (e.hours as number));
    }
    expect(rows.map((r) => [r.client_id, r.total_hours])).toEqual(
      [...hours.entries()]
        .sort((a, b) => (a[0] as number) - (b[0] as number))
        .map(([client, h]) => [client, Math.round(h * 100) / 100]),
    );
  });

  it('shows a member their own time only, and refuses them the uninvoiced and budget reports', async () => {
    const me = (await get(sim, '/v2/users/me', { token: sim.memberToken })).json.id;
    const team = await get(sim, pathOf('/v2/reports/time/team'), { token: sim.memberToken });
    expect(team.status).toBe(200);
    // one row per currency they worked in, all of them theirs
    expect([...new Set((team.json.results as JsonObject[]).map((r) => r.user_id))]).toEqual([me]);
    for (const path of ['/v2/reports/uninvoiced', '/v2/reports/project_budget']) {
      const res = await get(sim, pathOf(path), { token: sim.memberToken });
      expect(res.status, path).toBe(403);
      expect(res.json).toEqual({ message: 'Not authorized!' });
    }
  });
});

describe('the reports budget', () => {
  it('is 100 requests per 15 minutes, counted apart from the main budget', async () => {
    const clock = new TestClock({ start: '2026-01-01T00:00:00Z', sleeps: 'ignore' });
    const limited = await startSimulator({ scale: 0.01, seed: 4, clock });
    try {
      for (let i = 0; i < 100; i++) {
        expect((await get(limited, pathOf('/v2/reports/time/tasks'))).status).toBe(200);
      }
      expect((await get(limited, pathOf('/v2/reports/time/tasks'))).status).toBe(429);
      // the main budget is untouched by reports
      expect((await get(limited, '/v2/clients')).status).toBe(200);
      clock.advance(14 * 60_000);
      expect((await get(limited, pathOf('/v2/reports/time/tasks'))).status).toBe(429);
      clock.advance(60_000);
      expect((await get(limited, pathOf('/v2/reports/time/tasks'))).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
