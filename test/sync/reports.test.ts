import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { OBJECTS, findObject } from '../../src/catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { startSimulator } from '../../src/simulator/index.js';
import { FIRST_DATE_CALLS, ReportSource } from '../../src/sync/reports.js';
import { SyncDataError } from '../../src/sync/errors.js';
import type { HarvestSource } from '../../src/harvest/types.js';
import type { Simulator } from '../../src/simulator/index.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import { readTable, syncSqlite, tempDir } from './support/sqlite-helpers.js';

/*
 * Reports through the real engine, HarvestClient and simulator into SQLite: read as windows of a
 * year from the account's first date, each window's rows exactly the report Harvest gives for it,
 * the current window read again on an incremental run (and only it), rows gone from a window marked
 * deleted, and a rate budget of their own.
 */

const REPORTS = OBJECTS.filter((o) => o.report !== undefined);
const YEAR_REPORTS = REPORTS.filter((o) => o.report?.window === 'year');

let sim: Simulator;
let dir: string;
let cleanup: () => void;
let db: string;

beforeEach(async () => {
  // the account's history reaches today: the current window has rows
  sim = await startSimulator({
    scale: 0.01,
    rateLimit: null,
    timersGrow: false,
    epoch: new Date().toISOString(),
  });
  ({ dir, cleanup } = tempDir());
  db = join(dir, 'reports.db');
});
afterEach(async () => {
  await sim.stop();
  cleanup();
});

const compact = (date: unknown) => String(date).replaceAll('-', '');

/** The report as the simulator gives it for one window, every page. */
async function reportOf(spec: ObjectSpec, from: string, to: string): Promise<JsonObject[]> {
  const rows: JsonObject[] = [];
  let url: string | null = `${sim.url}${spec.endpoint}?per_page=7&from=${compact(from)}&to=${compact(to)}`;
  while (url !== null) {
    const res = await fetch(url, {
      headers: {
        Authorization: `Bearer ${sim.adminToken}`,
        'Harvest-Account-Id': sim.accountId,
        'User-Agent': 'tests (dev@example.com)',
      },
    });
    const body = (await res.json()) as JsonObject;
    rows.push(...(body.results as JsonObject[]));
    url = (body.links as JsonObject).next as string | null;
  }
  return rows;
}

/** Live rows of a report table by window, without harvest-sync's columns, as SQLite holds them. */
function windowsOf(table: string): Map<string, JsonObject[]> {
  const out = new Map<string, JsonObject[]>();
  for (const row of readTable(db, table)) {
    if (row._deleted_at !== null) continue;
    const { id: _id, window_id: _w, from, to, _deleted_at: _d, _synced_at: _s, ...rest } = row;
    const key = `${String(from)}..${String(to)}`;
    out.set(key, [...(out.get(key) ?? []), rest as JsonObject]);
  }
  return out;
}

/** A simulator row as SQLite stores it (booleans as 0/1). */
const asStored = (row: JsonObject): JsonObject =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
const byJson = (a: JsonObject, b: JsonObject) => JSON.stringify(a).localeCompare(JSON.stringify(b));

async function expectWindowsExact(spec: ObjectSpec): Promise<string[]> {
  const windows = windowsOf(spec.name);
  for (const [key, rows] of windows) {
    const [from, to] = key.split('..');
    const expected = (await reportOf(spec, from, to)).map(asStored);
    expect([...rows].sort(byJson), `${spec.name} ${key}`).toEqual([...expected].sort(byJson));
  }
  return [...windows.keys()].sort();
}

describe('reports', () => {
  it('loads every report as year windows from the account’s first date, each exactly Harvest’s', async () => {
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: REPORTS });
    expect(result.status).toBe('succeeded');
    const first = [...simRecords(sim, 'time_entries'), ...simRecords(sim, 'expenses')]
      .map((r) => r.spent_date as string)
      .sort()[0];
    const today = new Date().toISOString().slice(0, 10);
    for (const spec of YEAR_REPORTS) {
      const windows = await expectWindowsExact(spec);
      // consecutive windows of a year, the first from the first date, the last holding today
      expect(windows[0].startsWith(`${first}..`), spec.name).toBe(true);
      const last = windows[windows.length - 1].split('..');
      expect(last[0] <= today && today <= last[1], spec.name).toBe(true);
      for (const [i, w] of windows.entries()) {
        const [from, to] = w.split('..');
        const nextYear = `${Number(from.slice(0, 4)) + 1}${from.slice(4)}`;
        expect(to < nextYear, w).toBe(true);
        if (i > 0) expect(Date.parse(from) - Date.parse(windows[i - 1].split('..')[1]), w).toBe(86_400_000);
      }
    }
    const budget = readTable(db, 'report_project_budget');
    expect(budget.map((r) => [r.from, r.to])).toEqual(budget.map(() => [today, today]));
    const ids = readTable(db, 'report_time_team').map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('re-reads only the current window on the next run, replacing it exactly', async () => {
    await syncSqlite(db, simulatorClient(sim), { objects: REPORTS });
    const before = windowsOf('report_time_clients');
    const current = [...before.keys()].sort().at(-1) as string;
    const [from] = current.split('..');
    // every time entry of the current window is deleted: its rows must go, older windows stay
    const inWindow = simRecords(sim, 'time_entries').filter((e) => (e.spent_date as string) >= from);
    expect(inWindow.length).toBeGreaterThan(0);
    for (const e of inWindow) sim.remove('time_entries', e.id as number);
    sim.resetCounters();

    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: REPORTS });
    expect(result.status).toBe('succeeded');
    const reportCalls = Object.entries(sim.counters.byPath)
      .filter(([path]) => path.startsWith('/v2/reports/'))
      .reduce((n, [, count]) => n + count, 0);
    // one window per report (the project budget has none)
    expect(reportCalls).toBe(REPORTS.length);
    for (const r of result.objects)
      expect(r.mode, r.object).toBe(r.object.endsWith('budget') ? 'full' : 'incremental');
    const after = windowsOf('report_time_clients');
    expect(after.has(current)).toBe(false);
    for (const [key, rows] of before) if (key !== current) expect(after.get(key), key).toEqual(rows);
    const deleted = readTable(db, 'report_time_clients').filter((r) => r._deleted_at !== null);
    expect(deleted.length).toBe(before.get(current)?.length);
    for (const spec of YEAR_REPORTS) await expectWindowsExact(spec);
  });

  it('finds the account’s first date once: later incremental runs keep it, a full refresh probes again', async () => {
    const probes = () =>
      (sim.counters.byPath['/v2/time_entries'] ?? 0) + (sim.counters.byPath['/v2/expenses'] ?? 0);
    await syncSqlite(db, simulatorClient(sim), { objects: REPORTS });
    // the run's reports share one probe
    expect(probes()).toBe(FIRST_DATE_CALLS);
    const first = readTable(db, 'report_time_clients')
      .map((r) => r.from as string)
      .sort()[0];
    // kept with each report's state, though no pass is under way
    const state = new Database(db, { readonly: true });
    const kept = state.prepare('SELECT "object", "pass" FROM _harvest_sync_state').all() as JsonObject[];
    state.close();
    for (const row of kept) {
      if (row.object === 'report_project_budget') continue;
      expect(JSON.parse(row.pass as string), row.object as string).toEqual({ version: 3, firstDate: first });
    }
    const before = windowsOf('report_time_clients');

    sim.resetCounters();
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: REPORTS });
    expect(result.status).toBe('succeeded');
    expect(probes()).toBe(0);
    expect(sim.counters.total).toBe(REPORTS.length);
    // the windows keep their bounds: the current one replaced in place, no window of other dates
    expect([...windowsOf('report_time_clients').keys()]).toEqual([...before.keys()]);

    sim.resetCounters();
    await syncSqlite(db, simulatorClient(sim), { objects: REPORTS, fullRefresh: true });
    expect(probes()).toBe(FIRST_DATE_CALLS);
  });

  it('starts the windows at --since when it is given', async () => {
    const spec = findObject('report_expenses_categories') as ObjectSpec;
    await syncSqlite(db, simulatorClient(sim), { objects: [spec], since: '2025-03-01' });
    const windows = await expectWindowsExact(spec);
    expect(windows[0].startsWith('2025-03-01..2026-02-28')).toBe(true);
  });

  it('spends a budget of its own: reports wait for theirs, other objects never do', async () => {
    await sim.stop();
    const window = { requests: 3, windowMs: 1_500 };
    sim = await startSimulator({
      scale: 0.01,
      rateLimit: { requests: 100, windowMs: 1_000 },
      reportsRateLimit: window,
    });
    const client = new HarvestClient({
      token: sim.adminToken,
      accountId: sim.accountId,
      baseUrl: sim.url,
      userAgent: 'harvest-sync tests (dev@example.com)',
      rateLimit: { requests: 100, windowMs: 1_000 },
      reportsRateLimit: window,
    });
    const objects = [
      findObject('clients'),
      findObject('report_time_clients'),
      findObject('report_time_tasks'),
    ] as ObjectSpec[];
    const { result } = await syncSqlite(db, client, { objects });
    expect(result.status).toBe('succeeded');
    expect(sim.counters.rateLimited).toBe(0);
    const waits = (name: string) => result.objects.find((o) => o.object === name)?.rateLimitWaits ?? 0;
    expect(waits('clients')).toBe(0);
    expect(waits('report_time_clients') + waits('report_time_tasks')).toBeGreaterThan(0);
  });
});

describe('report ids', () => {
  /** Harvest answering a window with `rows` (the one response the simulator cannot give: keys repeated). */
  const harvestWith = (rows: JsonObject[]): HarvestSource => ({
    firstPageUrl: (spec, q) =>
      `https://api.harvestapp.com${spec.endpoint}?from=${q.from ?? ''}&to=${q.to ?? ''}`,
    fetchPage: async () => ({
      records: rows,
      nextUrl: null,
      serverTime: new Date().toISOString(),
      totalEntries: null,
    }),
    fetchRecord: async () => null,
    stats: () => ({ calls: 0, rateLimitWaits: 0, retries: 0 }),
  });
  const spec = findObject('report_time_clients') as ObjectSpec;
  const row = (client_id: number, currency: string) => ({ client_id, currency, total_hours: 1 });
  const read = (rows: JsonObject[]) => {
    const source = new ReportSource(harvestWith(rows), spec, {
      now: () => Date.parse('2026-06-01T00:00:00Z'),
    });
    return source.fetchPage(spec, 'https://api.harvestapp.com/v2/reports/time/clients?from=20260101');
  };

  it('gives each row of a window its own id, from the window and the key', async () => {
    const page = await read([row(1, 'EUR'), row(1, 'USD'), row(2, 'EUR')]);
    expect(new Set(page.records.map((r) => r.id)).size).toBe(3);
    expect(page.records.every((r) => Number.isSafeInteger(r.id) && (r.id as number) < 2 ** 52)).toBe(true);
  });

  it('fails the read, naming both rows, rather than store two rows under one id', async () => {
    await expect(read([row(1, 'EUR'), row(2, 'EUR'), row(1, 'EUR')])).rejects.toThrow(SyncDataError);
    await expect(read([row(1, 'EUR'), row(1, 'EUR')])).rejects.toThrow(
      /^report_time_clients: two rows of the window 2026-01-01\.\.2026-12-31 have the same id \d+ \(keys \[1,"EUR"\] and \[1,"EUR"\]\)/,
    );
  });
});
