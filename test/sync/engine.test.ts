import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import type { Destination } from '../../src/destinations/destination.js';
import { CURSOR_OVERLAP_MS } from '../../src/sync/engine.js';
import { spec } from '../harvest/helpers.js';
import { FakeHarvest } from './support/fake-harvest.js';
import {
  deletedIds,
  expectTablesMatch as matchesSource,
  liveIds,
  readTable,
  syncSqlite,
  scratchDatabase,
} from './support/sqlite-helpers.js';

const clients = spec('clients');
const invoices = spec('invoices');
const timeEntries = spec('time_entries');
const roles = spec('roles');
/** Longer than the cursor overlap, so records seeded before a sync are not read again after it. */
const HOUR = 3600_000;

const scratch = scratchDatabase();

function expectTablesMatch(path: string, source: FakeHarvest, objects: readonly ObjectSpec[]): void {
  matchesSource(path, (object) => source.records(object), objects);
}

describe('first run', () => {
  it('loads every object of the catalog in full, page by page, matching the source exactly', async () => {
    const source = new FakeHarvest(DEFAULT_OBJECTS);
    for (const [i, object] of DEFAULT_OBJECTS.entries()) source.seed(object.name, 3 + (i % 4));
    const { result, events } = await syncSqlite(scratch.db, source, { objects: DEFAULT_OBJECTS, perPage: 2 });

    expect(result.status).toBe('succeeded');
    expect(result.objects.map((o) => o.status)).toEqual(DEFAULT_OBJECTS.map(() => 'succeeded'));
    expectTablesMatch(scratch.db, source, DEFAULT_OBJECTS);
    for (const [i, object] of DEFAULT_OBJECTS.entries()) {
      const r = result.objects[i];
      const count = 3 + (i % 4);
      expect(r).toMatchObject({
        object: object.name,
        mode: 'full',
        read: count,
        inserted: count,
        updated: 0,
      });
      if (object.parent) {
        // pages of the parent's list, and a call per parent
        const parents = 3 + (DEFAULT_OBJECTS.findIndex((o) => o.name === object.parent?.object) % 4);
        expect(r.pages).toBe(Math.ceil(parents / 2));
        expect(r.calls, object.name).toBe(r.pages + parents);
        continue;
      }
      expect(r.pages).toBe(Math.ceil(count / 2));
      expect(r.calls).toBe(r.pages);
      expect(r.cursor).toBe(source.now().replace(/\.\d+Z$/, '.000Z'));
    }
    expect(events.filter((e) => e.type === 'object:start')).toHaveLength(DEFAULT_OBJECTS.length);
    expect(events.at(-1)).toMatchObject({ type: 'run:done', result: { status: 'succeeded' } });
  });

  it('follows links.next across many pages and reports each page', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 57);
    const pages: number[] = [];
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1, // one list, in order (no date windows)
      onEvent: (e) => {
        if (e.type === 'object:page') pages.push(e.read);
      },
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', read: 57, pages: 12 });
    expect(pages).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 57]);
    expect(liveIds(scratch.db, 'time_entries')).toHaveLength(57);
    expectTablesMatch(scratch.db, source, [timeEntries]);
  });

  it('completes the pass of an object with no records (one empty page)', async () => {
    const source = new FakeHarvest([clients]);
    const { result } = await syncSqlite(scratch.db, source, { objects: [clients] });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', read: 0, pages: 1, calls: 1 });
    expect(result.objects[0].cursor).not.toBeNull();
    expect(readTable(scratch.db, 'clients')).toEqual([]);
  });
});

describe('incremental runs', () => {
  it('read only records updated since the cursor (minus the overlap), one call per object', async () => {
    const objects = [clients, timeEntries, invoices];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 20);
    source.time += HOUR;
    await syncSqlite(scratch.db, source, { objects, perPage: 5 });

    source.time += HOUR;
    source.edit('clients', 4, (r) => (r.name = 'Renamed'));
    source.edit('time_entries', 17, (r) => (r.notes = 'edited'));
    source.put('time_entries', { ...source.get('time_entries', 1), id: 99 });
    const before = source.requests.length;
    const { result } = await syncSqlite(scratch.db, source, { objects, perPage: 5 });

    expect(result.status).toBe('succeeded');
    const byName = Object.fromEntries(result.objects.map((o) => [o.object, o]));
    expect(byName.clients).toMatchObject({ mode: 'incremental', read: 1, inserted: 0, updated: 1, calls: 1 });
    // time entries: the changes, then the running timers (whose hours grow, updated_at staying)
    expect(byName.time_entries).toMatchObject({
      mode: 'incremental',
      read: 2,
      inserted: 1,
      updated: 1,
      calls: 2,
    });
    expect(byName.invoices).toMatchObject({ mode: 'incremental', read: 0, calls: 1 });
    const asked = source.requests.slice(before).map((r) => new URL(r.url).searchParams);
    const firstCursor = new Date(Date.parse(source.now()) - HOUR - CURSOR_OVERLAP_MS).toISOString();
    const running = asked.filter((q) => q.get('is_running') === 'true');
    expect(running.map((q) => q.get('updated_since'))).toEqual([null]);
    const changed = asked.filter((q) => q.get('is_running') === null);
    expect(changed.map((q) => q.get('updated_since'))).toEqual([firstCursor, firstCursor, firstCursor]);
    expectTablesMatch(scratch.db, source, objects);
  });

  it('do not skip a record edited while the previous pass was under way', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 30);
    source.time += HOUR;
    const onFirstPage = source.listed('time_entries')[0].id as number;
    let page = 0;
    source.beforePage = () => {
      page += 1;
      // Harvest's clock moves on (well past the overlap); before page 4 a record of page 1 is edited.
      source.time += 10 * 60_000;
      if (page === 4) source.edit('time_entries', onFirstPage, (r) => (r.notes = 'edited mid-pass'));
    };
    // one list (no date windows, whose newest one reads page 1 again)
    await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 5, concurrency: 1 });
    const stored = () => readTable(scratch.db, 'time_entries').find((r) => r.id === onFirstPage)?.notes;
    expect(stored()).toBe(`notes ${onFirstPage}`); // that page had been read before the edit

    source.beforePage = undefined;
    source.time += HOUR;
    const { result } = await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 5 });
    expect(result.objects[0]).toMatchObject({ mode: 'incremental', read: 1, updated: 1 });
    expect(stored()).toBe('edited mid-pass');
    expectTablesMatch(scratch.db, source, [timeEntries]);
  });

  it('re-read objects without updated_since in full and mark their deleted records every run', async () => {
    const source = new FakeHarvest([roles]);
    source.seed('roles', 6);
    await syncSqlite(scratch.db, source, { objects: [roles], perPage: 4 });
    source.remove('roles', 2);
    source.time += 60_000;
    const { result } = await syncSqlite(scratch.db, source, { objects: [roles], perPage: 4 });
    expect(result.objects[0]).toMatchObject({ mode: 'full', read: 5, deleted: 1 });
    expect(source.requests.at(-1)?.url).not.toContain('updated_since');
    expect(deletedIds(scratch.db, 'roles')).toEqual([2]);
  });

  it('mark invoice line items removed from an invoice as deleted', async () => {
    const source = new FakeHarvest([invoices]);
    source.seed('invoices', 4);
    source.time += HOUR;
    await syncSqlite(scratch.db, source, { objects: [invoices] });
    expect(liveIds(scratch.db, 'invoice_line_items')).toEqual([11, 12, 21, 22, 31, 32, 41, 42]);

    source.time += HOUR;
    source.edit('invoices', 3, (r) => {
      r.line_items = (r.line_items as Array<{ id: number }>).filter((item) => item.id !== 32);
    });
    const { result } = await syncSqlite(scratch.db, source, { objects: [invoices] });
    expect(result.objects[0]).toMatchObject({ mode: 'incremental', read: 1, deleted: 1 });
    expect(deletedIds(scratch.db, 'invoice_line_items')).toEqual([32]);
    expect(liveIds(scratch.db, 'invoice_line_items')).toEqual([11, 12, 21, 22, 31, 41, 42]);
  });
});

describe('full refresh', () => {
  it('marks records gone from Harvest as deleted, child rows included, and undeletes those that return', async () => {
    const source = new FakeHarvest([clients, invoices]);
    source.seed('clients', 8);
    source.seed('invoices', 5);
    await syncSqlite(scratch.db, source, { objects: [clients, invoices], perPage: 3 });

    const removed = source.get('clients', 5);
    source.remove('clients', 5);
    source.remove('invoices', 2);
    source.time += 60_000;
    const first = await syncSqlite(scratch.db, source, {
      objects: [clients, invoices],
      perPage: 3,
      fullRefresh: true,
    });
    expect(first.result.objects.map((o) => [o.mode, o.deleted])).toEqual([
      ['full', 1],
      ['full', 3], // the invoice and its two line items
    ]);
    expect(deletedIds(scratch.db, 'clients')).toEqual([5]);
    expect(deletedIds(scratch.db, 'invoice_line_items')).toEqual([21, 22]);

    source.time += 60_000;
    source.put('clients', removed);
    const second = await syncSqlite(scratch.db, source, {
      objects: [clients],
      perPage: 3,
      fullRefresh: true,
    });
    // the one back (with a new updated_at) is updated, the seven read again as they were are not
    expect(second.result.objects[0]).toMatchObject({ deleted: 0, inserted: 0, updated: 1, unchanged: 7 });
    expect(deletedIds(scratch.db, 'clients')).toEqual([]);
    expect(liveIds(scratch.db, 'clients')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('does not sweep records outside a since window', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 24);
    await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 5 });
    source.time += 60_000;
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      fullRefresh: true,
      since: '2024-07-01',
    });
    expect(result.objects[0].deleted).toBe(0);
    expect(liveIds(scratch.db, 'time_entries')).toHaveLength(24);
  });
});

describe('counts', () => {
  it('counts every record read again as it was as unchanged, on every object, and pages add up to the result', async () => {
    const source = new FakeHarvest(DEFAULT_OBJECTS);
    for (const o of DEFAULT_OBJECTS) source.seed(o.name, 7);
    await syncSqlite(scratch.db, source, { objects: DEFAULT_OBJECTS, perPage: 3 });
    source.time += HOUR;
    const pages: Record<string, { read: number; unchanged: number; updated: number; last: unknown }> = {};
    const { result } = await syncSqlite(scratch.db, source, {
      objects: DEFAULT_OBJECTS,
      perPage: 3,
      fullRefresh: true,
      onEvent: (event) => {
        if (event.type !== 'object:page') return;
        const p = (pages[event.object] ??= { read: 0, unchanged: 0, updated: 0, last: null });
        p.read += event.records;
        p.unchanged += event.written.unchanged;
        p.updated += event.written.updated;
        p.last = event.counts;
      },
    });
    expect(result.status).toBe('succeeded');
    for (const o of result.objects) {
      expect(o, o.object).toMatchObject({ read: 7, inserted: 0, updated: 0, unchanged: 7, deleted: 0 });
      expect(pages[o.object], o.object).toEqual({
        read: 7,
        unchanged: 7,
        updated: 0,
        last: { inserted: 0, updated: 0, unchanged: 7, deleted: 0 },
      });
    }
  });

  it('counts one edited record as updated, the rest read with it as unchanged', async () => {
    const source = new FakeHarvest([roles, invoices]);
    source.seed('roles', 5);
    source.seed('invoices', 4);
    source.time += HOUR;
    await syncSqlite(scratch.db, source, { objects: [roles, invoices] });
    source.time += HOUR;
    source.edit('roles', 3, (r) => (r.name = 'Renamed role'));
    // a line item changes: Harvest gives its invoice a new updated_at, so the invoice is updated
    source.edit('invoices', 2, (r) => {
      (r.line_items as Array<{ description: string }>)[0].description = 'changed item';
    });
    const { result } = await syncSqlite(scratch.db, source, { objects: [roles, invoices] });
    const byName = Object.fromEntries(result.objects.map((o) => [o.object, o]));
    expect(byName.roles).toMatchObject({ mode: 'full', read: 5, inserted: 0, updated: 1, unchanged: 4 });
    expect(byName.invoices).toMatchObject({
      mode: 'incremental',
      read: 1,
      inserted: 0,
      updated: 1,
      unchanged: 0,
    });
  });

  it('counts a record that comes back exactly as it was before it was marked deleted as updated', async () => {
    const source = new FakeHarvest([clients]);
    source.seed('clients', 4);
    await syncSqlite(scratch.db, source, { objects: [clients] });
    const gone = source.get('clients', 2);
    source.remove('clients', 2);
    source.time += HOUR;
    const swept = await syncSqlite(scratch.db, source, { objects: [clients], fullRefresh: true });
    expect(swept.result.objects[0]).toMatchObject({ read: 3, unchanged: 3, deleted: 1 });
    source.restore('clients', gone); // the very record, updated_at and all
    source.time += HOUR;
    const back = await syncSqlite(scratch.db, source, { objects: [clients], fullRefresh: true });
    expect(back.result.objects[0]).toMatchObject({
      read: 4,
      inserted: 0,
      updated: 1,
      unchanged: 3,
      deleted: 0,
    });
    expect(deletedIds(scratch.db, 'clients')).toEqual([]);
  });
});

describe('since', () => {
  it('limits objects with a business date to records from that date, on every pass', async () => {
    const source = new FakeHarvest([timeEntries, clients]);
    source.seed('time_entries', 24);
    source.seed('clients', 3);
    await syncSqlite(scratch.db, source, {
      objects: [timeEntries, clients],
      since: '2024-07-01',
      perPage: 4,
    });
    const inWindow = source
      .records('time_entries')
      .filter((r) => (r.spent_date as string) >= '2024-07-01')
      .map((r) => r.id);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(inWindow.length).toBeLessThan(24);
    expect(liveIds(scratch.db, 'time_entries')).toEqual(inWindow);
    expect(liveIds(scratch.db, 'clients')).toEqual([1, 2, 3]);

    source.time += 60_000;
    source.edit('time_entries', 1, (r) => (r.spent_date = '2023-01-01'));
    await syncSqlite(scratch.db, source, {
      objects: [timeEntries, clients],
      since: '2024-07-01',
      perPage: 4,
    });
    const last = (object: string) =>
      new URL(
        source.requests.filter((r) => r.object === object && !r.url.includes('is_running')).at(-1)?.url ?? '',
      );
    const urls = [last('time_entries'), last('clients')];
    expect(urls[0].searchParams.get('from')).toBe('2024-07-01');
    expect(urls[0].searchParams.get('updated_since')).not.toBeNull();
    expect(urls[1].searchParams.get('from')).toBeNull();
  });
});

describe('resume', () => {
  it('continues an interrupted pass from its saved next URL without re-reading earlier pages', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 40);
    const controller = new AbortController();
    const first = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.pages === 3) controller.abort();
      },
    });
    expect(first.result.status).toBe('interrupted');
    expect(first.result.objects[0]).toMatchObject({
      status: 'interrupted',
      pages: 3,
      read: 15,
      cursor: null,
    });
    expect(liveIds(scratch.db, 'time_entries')).toHaveLength(15);
    const startedAt = source.now().replace(/\.\d+Z$/, '.000Z');

    // Harvest's clock moves on: the resumed pass keeps its own start.
    source.time += HOUR;
    const seen = source.requests.length;
    const second = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1,
    });
    const resumedUrls = source.requests.slice(seen).map((r) => new URL(r.url).searchParams.get('page'));
    expect(resumedUrls).toEqual(['4', '5', '6', '7', '8']);
    expect(second.events.find((e) => e.type === 'object:start')).toMatchObject({
      mode: 'full',
      resumed: true,
    });
    expect(second.result.objects[0]).toMatchObject({
      status: 'succeeded',
      read: 25,
      inserted: 25,
      cursor: startedAt,
    });
    expectTablesMatch(scratch.db, source, [timeEntries]);
  });

  it('lets the batch being written commit when aborted, then the next run completes exactly', async () => {
    const objects = [clients, timeEntries, invoices, roles];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 12);
    const controller = new AbortController();
    let writes = 0;
    const first = await syncSqlite(scratch.db, source, {
      objects,
      perPage: 2,
      concurrency: 2,
      signal: controller.signal,
      wrap: (d) =>
        withWriteHook(d, () => {
          writes += 1;
          if (writes === 5) controller.abort();
        }),
    });
    expect(first.result.status).toBe('interrupted');
    expect(first.result.objects.map((o) => o.status)).toEqual(objects.map(() => 'interrupted'));
    // The batch being written when the signal came commits, and so does any already queued behind it.
    const written = first.result.objects.reduce((n, o) => n + o.pages, 0);
    expect(written).toBe(writes);
    expect(writes).toBeGreaterThanOrEqual(5);
    expect(writes).toBeLessThan(objects.length * 6);
    // Objects the signal stopped before they started have no table yet.
    const started = first.result.objects.filter((o) => o.pages > 0).map((o) => o.object);
    const rows = started.reduce((n, name) => n + readTable(scratch.db, name).length, 0);
    expect(rows).toBe(first.result.objects.reduce((n, o) => n + o.read, 0));

    const second = await syncSqlite(scratch.db, source, { objects, perPage: 2, concurrency: 2 });
    expect(second.result.status).toBe('succeeded');
    expectTablesMatch(scratch.db, source, objects);
  });
});

describe('schema drift', () => {
  it('adds a column for a new field mid-run and keeps its values', async () => {
    const source = new FakeHarvest([clients, invoices]);
    source.seed('clients', 10);
    source.seed('invoices', 3);
    for (const id of [3, 7]) {
      source.edit('clients', id, (r) => {
        r.tier = id === 3 ? 'gold' : 'silver';
        r.owner = { id: id * 100, email: `o${id}@x.test` };
      });
    }
    source.edit('invoices', 2, (r) => {
      (r.line_items as Array<Record<string, unknown>>)[0].tax_code = 'VAT';
    });
    const { result, events } = await syncSqlite(scratch.db, source, {
      objects: [clients, invoices],
      perPage: 4,
    });
    expect(result.status).toBe('succeeded');
    const added = events.filter((e) => e.type === 'schema:column-added');
    expect(added).toEqual([
      { type: 'schema:column-added', table: 'clients', column: 'tier', columnType: 'text' },
      { type: 'schema:column-added', table: 'clients', column: 'owner_id', columnType: 'bigint' },
      { type: 'schema:column-added', table: 'clients', column: 'owner_email', columnType: 'text' },
      { type: 'schema:column-added', table: 'invoice_line_items', column: 'tax_code', columnType: 'text' },
    ]);
    const rows = readTable(scratch.db, 'clients');
    expect(rows.map((r) => [r.id, r.tier, r.owner_id, r.owner_email])).toEqual(
      source.records('clients').map((r) => {
        const owner = r.owner as { id: number; email: string } | undefined;
        return [r.id, r.tier ?? null, owner?.id ?? null, owner?.email ?? null];
      }),
    );
    expect(readTable(scratch.db, 'invoice_line_items').find((r) => r.id === 21)?.tax_code).toBe('VAT');
    expectTablesMatch(scratch.db, source, [clients, invoices]);
  });
});

describe('failures', () => {
  it('skips objects the token may not read (403) with the reason, and the run succeeds', async () => {
    const objects = [clients, roles, timeEntries];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 3);
    source.failWith('roles', 403);
    const { result } = await syncSqlite(scratch.db, source, { objects });
    expect(result.status).toBe('succeeded');
    expect(result.error).toBeUndefined();
    expect(result.objects.map((o) => o.status)).toEqual(['succeeded', 'skipped', 'succeeded']);
    expect(result.objects[1].reason).toMatch(/^roles: this token may not read roles \(403 Not authorized!\)/);
    expect(liveIds(scratch.db, 'time_entries')).toEqual([1, 2, 3]);
  });

  it('fails a run in which every object was skipped, with the reasons: nothing synced is no success', async () => {
    const objects = [clients, roles, invoices, spec('tasks'), spec('users')];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.failWith(o.name, 403);
    const { result } = await syncSqlite(scratch.db, source, { objects });
    expect(result.objects.map((o) => o.status)).toEqual(objects.map(() => 'skipped'));
    expect(result.status).toBe('failed');
    expect(result.error).toBe(
      'nothing was synced: every selected object was skipped — clients: this token may not read clients (403 Not authorized!): an administrator token (or a manager with the matching permission) is needed; roles: this token may not read roles (403 Not authorized!): an administrator token is needed; invoices: this token may not read invoices (403 Not authorized!): an administrator token (or a manager with the matching permission) is needed (and 2 more)',
    );
  });

  it('fails every object at once on a 401, with the message', async () => {
    const objects = [clients, roles, timeEntries, invoices];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 3);
    source.failWith('clients', 401);
    const { result } = await syncSqlite(scratch.db, source, { objects, concurrency: 1 });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/^clients: Harvest rejected the access token \(401\)/);
    expect(result.objects.map((o) => o.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(result.objects[1].reason).toBe(`not finished: ${result.error}`);
    expect(source.requests).toHaveLength(1);
  });

  it('fails an object whose other error is not about permission, and the other objects continue', async () => {
    const objects = [clients, roles];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 3);
    source.failWith('clients', 422);
    const { result } = await syncSqlite(scratch.db, source, { objects });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/^clients: Harvest rejected GET \/v2\/clients\?per_page=2000 \(422/);
    expect(result.objects.map((o) => o.status)).toEqual(['failed', 'succeeded']);
    expect(liveIds(scratch.db, 'roles')).toEqual([1, 2, 3]);
  });

  it('fails an object with a clear message when links.next loops', async () => {
    const source = new FakeHarvest([clients]);
    source.seed('clients', 9);
    source.rewriteNext = (_object, next, url) =>
      url.searchParams.get('page') === '3' ? url.toString().replace('page=3', 'page=2') : next;
    const { result } = await syncSqlite(scratch.db, source, { objects: [clients], perPage: 2 });
    expect(result.status).toBe('failed');
    expect(result.objects[0].reason).toBe(
      "clients: Harvest's links.next on page 3 (GET /v2/clients?per_page=2&page=3) points back to /v2/clients?per_page=2&page=2, already read in this pass: pagination loops, stopped reading clients",
    );
    expect(source.requests).toHaveLength(3);
  });

  it('fails an object on a record without a numeric id and writes nothing of that page', async () => {
    const source = new FakeHarvest([clients]);
    source.seed('clients', 6);
    source.rewriteRecords = (_object, records) =>
      records.map(({ id, ...rest }) => (id === 2 ? rest : { id, ...rest }));
    const { result } = await syncSqlite(scratch.db, source, { objects: [clients], perPage: 3 });
    expect(result.status).toBe('failed');
    expect(result.objects[0].reason).toBe(
      'clients: a record on page 2 (GET /v2/clients?per_page=3&page=2) has no numeric id (got none); nothing of this page was written',
    );
    expect(liveIds(scratch.db, 'clients')).toEqual([4, 5, 6]);
    expect(result.objects[0]).toMatchObject({ read: 3, pages: 1, cursor: null });
  });
});

describe('concurrency', () => {
  it('reads several objects (and date windows) at once but writes one batch at a time, holding at most concurrency + 1 pages', async () => {
    const objects = [clients, timeEntries, invoices, roles];
    const source = new FakeHarvest(objects);
    for (const o of objects) source.seed(o.name, 9);
    let inFlight = 0;
    let maxInFlight = 0;
    const outstanding = new Map<string, number>();
    const maxAhead = new Map<string, number>();
    let maxHeld = 0;
    const gates: Array<() => void> = [];
    source.beforePage = async (object, url) => {
      // the one-record probe before a split into date windows is made under its first page's slot
      const probe = url.searchParams.get('per_page') === '1';
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (!probe) outstanding.set(object, (outstanding.get(object) ?? 0) + 1);
      maxAhead.set(object, Math.max(maxAhead.get(object) ?? 0, outstanding.get(object) ?? 0));
      maxHeld = Math.max(
        maxHeld,
        [...outstanding.values()].reduce((a, b) => a + b, 0),
      );
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight -= 1;
    };
    const release = setInterval(() => gates.splice(0).forEach((open) => open()), 1);
    let writing = 0;
    let overlap = false;
    try {
      const { result } = await syncSqlite(scratch.db, source, {
        objects,
        perPage: 2,
        concurrency: 3,
        wrap: (d) =>
          withWriteHook(
            d,
            () => {
              if (writing > 0) overlap = true;
              writing += 1;
            },
            (batch) => {
              writing -= 1;
              outstanding.set(batch, (outstanding.get(batch) ?? 0) - 1);
            },
          ),
      });
      expect(result.status).toBe('succeeded');
    } finally {
      clearInterval(release);
    }
    expect(overlap).toBe(false);
    // Requests in flight and pages held never pass the run's page budget: concurrency + 1.
    expect(maxInFlight).toBe(4);
    expect(maxHeld).toBe(4);
    // An object read as one list has at most the page being written plus the one fetched ahead.
    for (const object of ['clients', 'invoices', 'roles']) expect(maxAhead.get(object), object).toBe(2);
    expectTablesMatch(scratch.db, source, objects);
  });
});

/** Wraps a destination to observe each writeBatch as it starts and ends. */
function withWriteHook(
  destination: Destination,
  before: () => void,
  after: (table: string) => void = () => undefined,
): Destination {
  return new Proxy(destination, {
    get(target, key, receiver) {
      if (key === 'writeBatch') {
        return async (batch: Parameters<Destination['writeBatch']>[0]) => {
          before();
          try {
            return await target.writeBatch(batch);
          } finally {
            after(batch.table);
          }
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
