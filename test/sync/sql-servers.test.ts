import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DEFAULT_OBJECTS, OBJECTS, findObject } from '../../src/catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { openDestination } from '../../src/destinations/index.js';
import { runSync } from '../../src/sync/engine.js';
import type { SyncEvent, SyncOptions, SyncResult } from '../../src/sync/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { canonical, replicaSnapshot } from '../cli/replica-helpers.js';
import { SERVER_ENGINES } from '../destinations/server-engines.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import { syncSqlite, tempDir } from './support/sqlite-helpers.js';

/*
 * The engine into the real PostgreSQL and MySQL/MariaDB destinations (a fresh schema or database per
 * test), fed by the HTTP simulator.
 */

function spec(name: string): ObjectSpec {
  const found = findObject(name);
  if (!found) throw new Error(name);
  return found;
}

describe.each(SERVER_ENGINES)('into $name', (engine) => {
  let sim: Simulator;
  let place: { url: string; drop(): Promise<void> };

  beforeEach(async () => {
    // running timers frozen: a timer's hours move every 36 s and would count as a second update
    sim = await startSimulator({ scale: 0.01, rateLimit: null, timersGrow: false });
    place = engine.fresh();
  });
  afterEach(async () => {
    await sim.stop();
    await place.drop();
  });

  async function sync(options: Omit<SyncOptions, 'source' | 'destination'>): Promise<SyncResult> {
    const destination = openDestination(place.url);
    await destination.open();
    try {
      return await runSync({ ...options, source: simulatorClient(sim), destination });
    } finally {
      await destination.close();
    }
  }

  const rows = (sql: string) => engine.query(place.url, sql);

  async function ids(table: string, deleted: boolean): Promise<number[]> {
    const found = await rows(
      `SELECT "id", "_deleted_at" IS NOT NULL AS deleted FROM "${table}" ORDER BY "id"`,
    );
    return found.filter((r) => Boolean(Number(r.deleted)) === deleted).map((r) => Number(r.id));
  }

  function simIds(object: string): number[] {
    return simRecords(sim, object)
      .map((r) => r.id as number)
      .sort((a, b) => a - b);
  }

  it('holds every report exactly as SQLite does, windows and ids alike, and again after a second run', async () => {
    const reports = OBJECTS.filter((o) => o.report !== undefined);
    const { dir, cleanup } = tempDir();
    try {
      const sqlitePath = join(dir, 'reports.db');
      for (let run = 0; run < 2; run++) {
        expect((await sync({ objects: reports })).status).toBe('succeeded');
        const { result } = await syncSqlite(sqlitePath, simulatorClient(sim), { objects: reports });
        expect(result.status).toBe('succeeded');
        const select = (table: string, columns: string[]) =>
          `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY "id"`;
        const fromServer = await replicaSnapshot((t, c) => engine.query(place.url, select(t, c)), reports);
        const sqlite = new Database(sqlitePath, { readonly: true });
        try {
          const fromSqlite = await replicaSnapshot(
            async (t, c) => sqlite.prepare(select(t, c)).all() as Record<string, unknown>[],
            reports,
          );
          for (const table of Object.keys(fromSqlite)) {
            expect(fromServer[table].length, table).toBeGreaterThan(0);
            expect(fromServer[table], table).toEqual(fromSqlite[table]);
          }
        } finally {
          sqlite.close();
        }
      }
    } finally {
      cleanup();
    }
  });

  it('loads every object, then applies edits incrementally and deletions on a full refresh', async () => {
    const first = await sync({ objects: DEFAULT_OBJECTS, perPage: 25 });
    expect(first.status).toBe('succeeded');
    for (const object of DEFAULT_OBJECTS)
      expect(await ids(object.name, false), object.name).toEqual(simIds(object.name));
    const lineItems = simRecords(sim, 'invoices').flatMap((r) =>
      (r.line_items as Array<{ id: number }>).map((i) => i.id),
    );
    expect(await ids('invoice_line_items', false)).toEqual(lineItems.sort((a, b) => a - b));

    const entry = simRecords(sim, 'time_entries')[40].id as number;
    sim.update('time_entries', entry, { notes: 'edited: tab\tand "quotes" \\ 🎉', hours: 7.25 });
    sim.resetCounters();
    const second = await sync({ objects: DEFAULT_OBJECTS, perPage: 25 });
    expect(second.status).toBe('succeeded');
    // one call per object, one more for the running timers of time entries (read again every run)
    expect(sim.counters.total).toBe(DEFAULT_OBJECTS.length + 1);
    const running = simRecords(sim, 'time_entries').filter((r) => r.is_running === true).length;
    expect(second.objects.find((o) => o.object === 'time_entries')).toMatchObject({
      read: 1 + running,
      updated: 1,
    });
    const [stored] = await rows(`SELECT "notes", "hours" FROM "time_entries" WHERE "id" = ${entry}`);
    expect([stored.notes, Number(stored.hours)]).toEqual(['edited: tab\tand "quotes" \\ 🎉', 7.25]);

    const gone = simRecords(sim, 'clients')[1].id as number;
    const contacts = simRecords(sim, 'contacts').filter((c) => (c.client as { id: number }).id === gone);
    for (const c of contacts) sim.remove('contacts', c.id as number);
    sim.remove('clients', gone);
    const third = await sync({
      objects: [spec('clients'), spec('contacts')],
      perPage: 25,
      fullRefresh: true,
    });
    expect(third.status).toBe('succeeded');
    expect(await ids('clients', true)).toEqual([gone]);
    expect(await ids('contacts', true)).toEqual(contacts.map((c) => c.id as number).sort((a, b) => a - b));
    expect(await ids('clients', false)).toEqual(simIds('clients'));
  });

  it('resumes an aborted run where it stopped and ends with every record', async () => {
    const controller = new AbortController();
    const objects = [spec('time_entries'), spec('invoices'), spec('users')];
    // one request at a time, so the pages left are known exactly (windows: test/sync/windows.test.ts)
    const first = await sync({
      objects,
      perPage: 10,
      concurrency: 1,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.object === 'time_entries' && e.pages === 2) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    const read = first.objects.find((o) => o.object === 'time_entries')?.read;
    expect(await ids('time_entries', false)).toHaveLength(read ?? -1);
    sim.resetCounters();
    const second = await sync({ objects, perPage: 10, concurrency: 1 });
    expect(second.status).toBe('succeeded');
    // The resumed pass reads only the pages it had not written.
    expect(second.objects[0].calls).toBe(10 - first.objects[0].pages);
    for (const object of objects)
      expect(await ids(object.name, false), object.name).toEqual(simIds(object.name));
  });

  it('adds typed columns for fields Harvest starts sending mid-run, and keeps them in later runs', async () => {
    const drift: Record<string, (r: JsonObject) => JsonObject[string]> = {
      billing_code: (r) => `ref-${String(r.id)} ü`,
      'client.owner_id': (r) => 9_000_000_000 + Number(r.id),
      'client.score': () => 0.1,
      'client.reviewed_at': () => '2026-01-02T03:04:05+02:00',
      'client.vip': () => true,
      tag_ids: () => [3, 4],
    };
    const events: SyncEvent[] = [];
    let added = false;
    const initial = await sync({
      objects: [spec('time_entries')],
      perPage: 25,
      concurrency: 1,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'object:page' && e.pages === 1 && !added) {
          for (const [field, valueOf] of Object.entries(drift)) sim.addField('time_entries', field, valueOf);
          added = true;
        }
      },
    });
    expect(initial.status).toBe('succeeded');
    // in the order the record shows them: inside the existing `client` object first
    const expected = [
      ['client_owner_id', 'bigint'],
      ['client_score', 'decimal'],
      ['client_reviewed_at', 'timestamp'],
      ['client_vip', 'boolean'],
      ['billing_code', 'text'],
      ['tag_ids', 'json'],
    ] as const;
    const columns = events.flatMap((e) =>
      e.type === 'schema:column-added' ? [[e.column, e.columnType]] : [],
    );
    expect(columns).toEqual(expected);
    const physical = (await rows(engine.columnsSql('time_entries'))).map((c) => [c.name, c.type]);
    expect(physical.slice(-expected.length)).toEqual(
      expected.map(([name, type]) => [name, engine.types[type]]),
    );

    const written = await rows(
      `SELECT "id", ${expected.map(([name]) => `"${name}"`).join(', ')} FROM "time_entries"
       WHERE "billing_code" IS NOT NULL ORDER BY "id"`,
    );
    // page 1 was read before the fields existed (page 2 may have been: it is fetched ahead)
    expect(written.length).toBeGreaterThanOrEqual(simIds('time_entries').length - 50);
    const id = Number(written[0].id);
    expect(expected.map(([name, type]) => canonical(type, written[0][name]))).toEqual([
      9_000_000_000 + id,
      0.1,
      '2026-01-02T01:04:05.000Z',
      true,
      `ref-${id} ü`,
      '[3,4]',
    ]);

    events.length = 0;
    const entry = simIds('time_entries')[0];
    sim.update('time_entries', entry, { notes: 'after drift' });
    const second = await sync({
      objects: [spec('time_entries')],
      perPage: 25,
      onEvent: (e) => void events.push(e),
    });
    expect(second.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'schema:column-added')).toEqual([]);
    const [updated] = await rows(`SELECT "notes", "billing_code" FROM "time_entries" WHERE "id" = ${entry}`);
    expect(updated).toEqual({ notes: 'after drift', billing_code: `ref-${entry} ü` });
  });
});
