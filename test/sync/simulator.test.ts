import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DEFAULT_OBJECTS, findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { CURSOR_OVERLAP_MS } from '../../src/sync/engine.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import {
  deletedIds,
  expectedTables,
  liveIds,
  project,
  readTable,
  syncSqlite,
  tempDir,
} from './support/sqlite-helpers.js';

/*
 * The engine against the real parts: the HTTP simulator, HarvestClient and SQLite files.
 * Scale 0.01 gives 100 time entries and a handful of everything else; per_page 25 makes several pages.
 */

const SCALE = 0.01;
const PER_PAGE = 25;

function spec(name: string): ObjectSpec {
  const found = findObject(name);
  if (!found) throw new Error(name);
  return found;
}

let sim: Simulator;
let dir: string;
let cleanup: () => void;
let db: string;

beforeEach(async () => {
  // the replica is compared with the simulator at a later moment: running timers held still
  // (their growth without updated_at is test/simulator/replica.test.ts's subject)
  sim = await startSimulator({ scale: SCALE, rateLimit: null, timersGrow: false });
  ({ dir, cleanup } = tempDir());
  db = join(dir, 'harvest.db');
});
afterEach(async () => {
  await sim.stop();
  cleanup();
});

function expectTablesMatchSimulator(path: string, objects: readonly ObjectSpec[]): void {
  for (const object of objects) {
    const expected = expectedTables(object, simRecords(sim, object.name), sqliteEncoders);
    for (const [table, rows] of Object.entries(expected)) {
      // Rows marked deleted are checked by the tests that delete; the rest must be the source's records.
      const live = readTable(path, table).filter((r) => r._deleted_at === null);
      expect(project(live, rows), table).toEqual(rows);
    }
  }
}

describe('against the simulator', () => {
  it('loads every object in full, across many pages, exactly as the simulator holds it', async () => {
    const { result } = await syncSqlite(db, simulatorClient(sim), {
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
    });
    expect(result.status).toBe('succeeded');
    expectTablesMatchSimulator(db, DEFAULT_OBJECTS);
    const entries = result.objects.find((o) => o.object === 'time_entries');
    expect(entries).toMatchObject({ read: 100, inserted: 100, pages: 4, calls: 4 });
    // every call is a list page but company's; per-parent objects make one call per parent too
    const calls = result.objects.reduce((n, o) => n + o.calls, 0);
    expect(sim.counters.listPages).toBe(calls - 1);
    const perParent = DEFAULT_OBJECTS.filter((o) => o.parent !== undefined);
    for (const object of perParent) {
      const parents = simRecords(sim, object.parent?.object ?? '').length;
      const got = result.objects.find((o) => o.object === object.name);
      expect(got?.calls, object.name).toBe(parents + Math.ceil(parents / PER_PAGE));
    }
  });

  it('reads only what changed on the next run, at about one call per object', async () => {
    const client = simulatorClient(sim);
    const first = await syncSqlite(db, client, { objects: DEFAULT_OBJECTS, perPage: PER_PAGE });
    const cursors = new Map(first.result.objects.map((o) => [o.object, o.cursor]));

    const client7 = simRecords(sim, 'clients')[2];
    // not a rename: copies of the name in other records would stay stale until a full refresh
    // (see README, "Changes Harvest makes without moving updated_at")
    sim.update('clients', client7.id as number, { address: 'Moved after the first run' });
    const entry = simRecords(sim, 'time_entries')[60];
    sim.update('time_entries', entry.id as number, { notes: 'edited after the first run' });
    const invoice = simRecords(sim, 'invoices')[1];
    const items = invoice.line_items as Array<{ id: number }>;
    sim.updateLineItems('invoices', invoice.id as number, items.slice(1));
    sim.resetCounters();

    const second = await syncSqlite(db, simulatorClient(sim), {
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
    });
    expect(second.result.status).toBe('succeeded');
    // one call per object, one more for the running timers of time entries (their hours grow
    // while updated_at stays), and one per changed invoice for each object listed per invoice
    const timers = DEFAULT_OBJECTS.filter((o) => o.runningFilter !== undefined).length;
    expect(timers).toBe(1);
    expect(sim.counters.total).toBe(DEFAULT_OBJECTS.length + timers + 2);
    for (const r of second.result.objects) {
      const object = spec(r.object);
      const bound = Date.parse(cursors.get(r.object) ?? '') - CURSOR_OVERLAP_MS;
      const changedOf = (name: string) =>
        simRecords(sim, name).filter((x) => Date.parse(x.updated_at as string) >= bound);
      const parent = object.parent;
      if (parent) {
        const parents = new Set(changedOf(parent.object).map((p) => p.id));
        const read = simRecords(sim, r.object).filter((x) => parents.has(x[parent.key])).length;
        expect(r, r.object).toMatchObject({ mode: 'incremental', read, calls: 1 + parents.size });
        continue;
      }
      const field = object.runningFilter;
      const running = field === undefined ? [] : simRecords(sim, r.object).filter((x) => x[field] === true);
      expect(r, r.object).toMatchObject({
        mode: object.incremental ? 'incremental' : 'full',
        read: object.incremental
          ? changedOf(r.object).length + running.length
          : simRecords(sim, r.object).length,
        calls: field === undefined ? 1 : 2,
      });
    }
    const read = (name: string) => second.result.objects.find((o) => o.object === name)?.read;
    expect(read('clients')).toBeGreaterThanOrEqual(1);
    expect(read('time_entries')).toBeGreaterThanOrEqual(1);
    expect(deletedIds(db, 'invoice_line_items')).toEqual(items.length > 1 ? [items[0].id] : []);
    expectTablesMatchSimulator(db, DEFAULT_OBJECTS);
  });

  it('marks records deleted in Harvest on a full refresh', async () => {
    const objects = [spec('projects'), spec('time_entries'), spec('invoices')];
    await syncSqlite(db, simulatorClient(sim), { objects, perPage: PER_PAGE });
    const project7 = simRecords(sim, 'projects')[3].id as number;
    const entry = simRecords(sim, 'time_entries')[70].id as number;
    const invoice = simRecords(sim, 'invoices')[0];
    for (const [object, id] of [
      ['projects', project7],
      ['time_entries', entry],
      ['invoices', invoice.id as number],
    ] as const) {
      expect(sim.remove(object, id)).toBe(true);
    }
    const { result } = await syncSqlite(db, simulatorClient(sim), {
      objects,
      perPage: PER_PAGE,
      fullRefresh: true,
    });
    expect(result.status).toBe('succeeded');
    expect(deletedIds(db, 'projects')).toEqual([project7]);
    expect(deletedIds(db, 'time_entries')).toEqual([entry]);
    expect(deletedIds(db, 'invoices')).toEqual([invoice.id]);
    const lineItems = (invoice.line_items as Array<{ id: number }>).map((i) => i.id).sort((a, b) => a - b);
    expect(deletedIds(db, 'invoice_line_items')).toEqual(lineItems);
    expect(result.objects.map((o) => o.deleted)).toEqual([1, 1, 1 + lineItems.length]);
  });

  it('adds a column for a field Harvest starts sending mid-run, keeping every value', async () => {
    const entries = spec('time_entries');
    const valueOf = (record: Record<string, unknown>) => `ref-${String(record.id)}`;
    let added = false;
    const { result, events } = await syncSqlite(db, simulatorClient(sim), {
      objects: [entries],
      perPage: PER_PAGE,
      concurrency: 1,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.pages === 1 && !added) {
          sim.addField('time_entries', 'billing_code', valueOf);
          added = true;
        }
      },
    });
    expect(result.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'schema:column-added')).toEqual([
      {
        type: 'schema:column-added',
        table: 'time_entries',
        column: 'billing_code',
        columnType: 'text',
      },
    ]);
    const rows = readTable(db, 'time_entries');
    const withValue = rows.filter((r) => r.billing_code !== null);
    // Page 1 was read before the field existed, and page 2 may have been (it is fetched ahead);
    // every later record carries it.
    expect(withValue.length).toBeGreaterThanOrEqual(rows.length - 2 * PER_PAGE);
    expect(withValue.length).toBeLessThanOrEqual(rows.length - PER_PAGE);
    for (const r of withValue) expect(r.billing_code).toBe(valueOf(r));
    expectTablesMatchSimulator(db, [entries]);
  });

  it('skips objects a member token may not read, with the reason, and succeeds', async () => {
    const { result } = await syncSqlite(db, simulatorClient(sim, sim.memberToken), {
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
    });
    expect(result.status).toBe('succeeded');
    for (const r of result.objects) {
      if (spec(r.object).access === 'member') expect(r.status, r.object).toBe('succeeded');
      else {
        expect(r.status, r.object).toBe('skipped');
        expect(r.reason).toMatch(new RegExp(`^${r.object}: this token may not read ${r.object} \\(403`));
      }
    }
  });

  it('fails the whole run with the message when the token is revoked mid-run (401)', async () => {
    sim.setFaults({ revokeAfterPages: 3 });
    const { result } = await syncSqlite(db, simulatorClient(sim), {
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
    });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/Harvest rejected the access token \(401\)/);
    expect(result.objects.every((o) => o.status === 'failed' || o.status === 'succeeded')).toBe(true);
    expect(result.objects.filter((o) => o.status === 'failed').length).toBeGreaterThan(
      DEFAULT_OBJECTS.length / 2,
    );
    // Requests stop at once rather than one 401 per object.
    expect(sim.counters.byStatus['401']).toBeLessThanOrEqual(4);
  });

  it('fails only the object whose links.next loops, with a clear message', async () => {
    sim.setFaults({ loopNext: 'time_entries' });
    const objects = [spec('time_entries'), spec('clients')];
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects, perPage: PER_PAGE });
    expect(result.status).toBe('failed');
    expect(result.objects[0].status).toBe('failed');
    expect(result.objects[0].reason).toMatch(
      /^time_entries: Harvest's links\.next on page \d .* pagination loops/,
    );
    expect(result.objects[0].calls).toBeLessThanOrEqual(3);
    expect(result.objects[1].status).toBe('succeeded');
  });

  it('fails an object on a record without an id and writes nothing of that page', async () => {
    sim.setFaults({ dropIdOnce: 'projects' });
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: [spec('projects')] });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(
      /^projects: a record on page 1 \(GET \/v2\/projects\?.*\) has no numeric id/,
    );
    expect(readTable(db, 'projects')).toEqual([]);
  });

  it('limits dated objects to the since window', async () => {
    const objects = [spec('time_entries'), spec('expenses'), spec('clients')];
    const dates = simRecords(sim, 'time_entries').map((r) => r.spent_date as string);
    const since = [...dates].sort()[Math.floor(dates.length / 2)];
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects, perPage: PER_PAGE, since });
    expect(result.status).toBe('succeeded');
    for (const object of ['time_entries', 'expenses']) {
      const inWindow = simRecords(sim, object)
        .filter((r) => (r.spent_date as string) >= since)
        .map((r) => r.id as number)
        .sort((a, b) => a - b);
      expect(liveIds(db, object)).toEqual(inWindow);
    }
    expect(liveIds(db, 'clients')).toHaveLength(simRecords(sim, 'clients').length);
  });

  it('stops on abort with nothing half-written, and the next run ends exactly like an uninterrupted one', async () => {
    const controller = new AbortController();
    const first = await syncSqlite(db, simulatorClient(sim), {
      objects: DEFAULT_OBJECTS,
      perPage: 10,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.object === 'time_entries' && e.pages === 3) controller.abort();
      },
    });
    expect(first.result.status).toBe('interrupted');
    expect(first.result.objects.some((o) => o.status === 'interrupted')).toBe(true);
    const entries = first.result.objects.find((o) => o.object === 'time_entries');
    expect(liveIds(db, 'time_entries')).toHaveLength(entries?.read ?? -1);

    const second = await syncSqlite(db, simulatorClient(sim), { objects: DEFAULT_OBJECTS, perPage: 10 });
    expect(second.result.status).toBe('succeeded');
    const resumed = second.events.find((e) => e.type === 'object:start' && e.object === 'time_entries');
    expect(resumed).toMatchObject({ resumed: true });

    const other = join(dir, 'uninterrupted.db');
    await syncSqlite(other, simulatorClient(sim), { objects: DEFAULT_OBJECTS, perPage: 10 });
    for (const table of ['time_entries', 'invoices', 'invoice_line_items', 'projects', 'users']) {
      expect(readTable(db, table), table).toEqual(readTable(other, table));
    }
    expectTablesMatchSimulator(db, DEFAULT_OBJECTS);
  });
});

describe('page size', () => {
  it('reads 3,000 invoices in 2 calls: per_page=2000 is sent, not Harvest’s default of 100', async () => {
    // the simulator answers like Harvest: without per_page an invoice page holds 100
    const big = await startSimulator({ scale: 15, rateLimit: null });
    try {
      expect([...big.records('invoices')]).toHaveLength(3000);
      const { result } = await syncSqlite(db, simulatorClient(big), { objects: [spec('invoices')] });
      expect(result.objects[0]).toMatchObject({ status: 'succeeded', read: 3000, inserted: 3000, calls: 2 });
      expect(big.counters.total).toBe(2);
      expect(Object.keys(big.counters.byPath)).toEqual(['/v2/invoices']);
    } finally {
      await big.stop();
    }
  });
});
