import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { findObject } from '../../src/catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/index.js';
import { simulatorClient } from '../sync/support/simulator-helpers.js';
import { expectTablesMatch, readTable, syncSqlite, tempDir } from '../sync/support/sqlite-helpers.js';
import { TestClock } from '../support/clock.js';

/*
 * What a replica shows when Harvest changes a record without moving its updated_at, as README's
 * "How a sync works" states it: the real engine (runSync, HarvestClient, SQLite) against the
 * harder simulator. Also the 429 Harvest was recorded sending (no Retry-After), end to end.
 */

const spec = (name: string) => findObject(name) as ObjectSpec;
const DEFAULT_OBJECTS = ['projects', 'user_assignments', 'time_entries'].map(spec);

let dir: string;
let cleanup: () => void;
let db: string;
const sims: Simulator[] = [];
const clock = new TestClock({ start: '2026-05-01T00:00:00Z', sleeps: 'ignore' });

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  db = join(dir, 'replica.db');
  clock.set('2026-05-01T00:00:00Z');
});
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  cleanup();
});

async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ scale: 0.05, seed: 21, rateLimit: null, clock, ...options });
  sims.push(sim);
  return sim;
}

async function run(sim: Simulator, fullRefresh = false): Promise<void> {
  const { result } = await syncSqlite(db, simulatorClient(sim), { objects: DEFAULT_OBJECTS, fullRefresh });
  expect(result.status).toBe('succeeded');
}

/** The project most time entries point at, and the names its copies show in the replica. */
function busiestProject(sim: Simulator): number {
  const counts = new Map<number, number>();
  for (const e of sim.records('time_entries')) {
    const id = (e.project as JsonObject).id as number;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
}
const namesIn = (table: string, column: string, id: number) =>
  new Set(
    readTable(db, table)
      .filter((r) => r[`${column}_id`] === id)
      .map((r) => r[`${column}_name`]),
  );
const recordsOf = (sim: Simulator) => (object: string) => [...sim.records(object)];

describe('a renamed project in the replica', () => {
  it('by default: the next run updates the project row only; embedded names settle at the next full refresh', async () => {
    const sim = await simulator();
    await run(sim);
    const project = busiestProject(sim);
    clock.advance(3_600_000);
    sim.update('projects', project, { name: 'Renamed in Harvest' });
    await run(sim);
    expect(readTable(db, 'projects').find((r) => r.id === project)?.name).toBe('Renamed in Harvest');
    // running timers are read again by every incremental run (their hours grow): they show the new
    // name; every other time entry keeps the old one
    const running = new Set(
      [...sim.records('time_entries')].filter((e) => e.is_running === true).map((e) => e.id as number),
    );
    const stale = new Set(
      readTable(db, 'time_entries')
        .filter((r) => r.project_id === project && !running.has(Number(r.id)))
        .map((r) => r.project_name),
    );
    expect(stale.size).toBe(1);
    expect(stale.has('Renamed in Harvest')).toBe(false);
    expect(namesIn('user_assignments', 'project', project).has('Renamed in Harvest')).toBe(false);

    clock.advance(3_600_000);
    await run(sim, true);
    expect([...namesIn('time_entries', 'project', project)]).toEqual(['Renamed in Harvest']);
    expect([...namesIn('user_assignments', 'project', project)]).toEqual(['Renamed in Harvest']);
    expectTablesMatch(db, recordsOf(sim), DEFAULT_OBJECTS);
  });

  it('when Harvest moves the embedding records’ updated_at: the next incremental run settles everything', async () => {
    // timers held still: their growth is the next test's subject, and would differ here
    const sim = await simulator({ renameTouchesEmbedding: true, timersGrow: false });
    await run(sim);
    const project = busiestProject(sim);
    clock.advance(3_600_000);
    sim.update('projects', project, { name: 'Renamed and touched' });
    await run(sim);
    expect([...namesIn('time_entries', 'project', project)]).toEqual(['Renamed and touched']);
    expect([...namesIn('user_assignments', 'project', project)]).toEqual(['Renamed and touched']);
    expectTablesMatch(db, recordsOf(sim), DEFAULT_OBJECTS);
  });
});

describe('a running timer in the replica', () => {
  it('is read again by every incremental run: its row holds the hours as of the last run', async () => {
    const sim = await simulator();
    await run(sim);
    const timer = [...sim.records('time_entries')].find((e) => e.is_running === true) as JsonObject;
    const row = () => readTable(db, 'time_entries').find((r) => r.id === timer.id) as Record<string, unknown>;
    const first = row().hours;
    expect(first).toBe(timer.hours);

    clock.advance(2 * 3_600_000);
    await run(sim);
    const current = () => [...sim.records('time_entries')].find((e) => e.id === timer.id) as JsonObject;
    expect(current().hours).toBeCloseTo((first as number) + 2, 1);
    expect(current().updated_at).toBe(timer.updated_at);
    expect(row().hours).toBe(current().hours);

    clock.advance(3_600_000);
    await run(sim, true);
    expect(row().hours).toBe(current().hours);

    clock.advance(3_600_000);
    sim.update('time_entries', timer.id as number, { is_running: false, timer_started_at: null, hours: 9.5 });
    await run(sim);
    expect(row()).toMatchObject({ hours: 9.5, is_running: 0 });
  });
});

describe('the 429 Harvest was recorded sending', () => {
  it('(text/html, empty body, no Retry-After) is waited out with the fallback pause, and the run is exact', async () => {
    // the system clock: the simulator's window has to pass while the client waits
    const sim = await startSimulator({ scale: 0.05, seed: 22, rateLimit: { requests: 6, windowMs: 400 } });
    sims.push(sim);
    const objects = ['clients', 'projects', 'tasks', 'users'].map(spec);
    const reasons: string[] = [];
    const source = new HarvestClient({
      token: sim.adminToken,
      accountId: sim.accountId,
      baseUrl: sim.url,
      userAgent: 'harvest-sync tests (dev@example.com)',
      // set twice too high: only the server's 429s hold the client back
      rateLimit: { requests: 12, windowMs: 400 },
      retryAfterFallbackMs: 450,
      onEvent: (event) => {
        if (event.type === 'retry') reasons.push(event.reason);
      },
    });
    const { result } = await syncSqlite(db, source, { objects, perPage: 3 });
    expect(result.status).toBe('succeeded');
    expect(sim.counters.rateLimited).toBeGreaterThan(0);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((r) => r.startsWith('429 Too Many Requests (no usable Retry-After'))).toBe(true);
    expectTablesMatch(db, recordsOf(sim), objects);
  });
});
