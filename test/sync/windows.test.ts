import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ObjectSpec } from '../../src/catalog/types.js';
import type { Destination, PassState, WrittenQuery } from '../../src/destinations/destination.js';
import { MAX_STREAM_RESTARTS } from '../../src/sync/engine.js';
import { dateOf, inWindow, splitDates, tileDates, windowCount } from '../../src/sync/windows.js';
import { spec } from '../harvest/helpers.js';
import { FakeHarvest } from './support/fake-harvest.js';
import {
  deletedIds,
  expectTablesMatch,
  liveIds,
  syncSqlite,
  scratchDatabase,
} from './support/sqlite-helpers.js';

const timeEntries = spec('time_entries');
const invoices = spec('invoices');
const DAY = 86_400_000;

const scratch = scratchDatabase();

function expectExact(source: FakeHarvest, object: ObjectSpec): void {
  expectTablesMatch(scratch.db, (name) => source.records(name), [object]);
}

function savedPass(object: string): PassState | null {
  const handle = new Database(scratch.db, { readonly: true });
  try {
    const row = handle.prepare('SELECT pass FROM _harvest_sync_state WHERE object = ?').get(object) as
      { pass: string | null } | undefined;
    return row?.pass ? (JSON.parse(row.pass) as PassState) : null;
  } finally {
    handle.close();
  }
}

const isProbe = (url: URL) => url.searchParams.get('per_page') === '1';

describe('splitting dates', () => {
  it('tiles the range with whole-day windows, newest first, as equal as the days allow', () => {
    const windows = splitDates('2024-01-01', '2024-01-10', 3);
    expect(windows).toEqual([
      { from: '2024-01-07', to: '2024-01-10' },
      { from: '2024-01-04', to: '2024-01-06' },
      { from: '2024-01-01', to: '2024-01-03' },
    ]);
    // across a leap day and a year end, no day missed or repeated
    const long = splitDates('2023-12-30', '2024-03-02', 7);
    expect(long).toHaveLength(7);
    expect(long.at(-1)?.from).toBe('2023-12-30');
    expect(long[0].to).toBe('2024-03-02');
    for (let i = 0; i + 1 < long.length; i++) {
      expect(Date.parse(long[i].from) - Date.parse(long[i + 1].to)).toBe(DAY);
    }
  });

  it('never makes more windows than days, and none for an empty or invalid range', () => {
    expect(splitDates('2024-05-05', '2024-05-05', 8)).toEqual([{ from: '2024-05-05', to: '2024-05-05' }]);
    expect(splitDates('2024-05-01', '2024-05-03', 8)).toHaveLength(3);
    expect(splitDates('2024-05-03', '2024-05-01', 4)).toEqual([]);
    expect(splitDates('2024-13-01', '2024-05-01', 4)).toEqual([]);
    expect(splitDates('yesterday', '2024-05-01', 4)).toEqual([]);
  });

  it('gives a long pass twice the concurrency in windows, a short one or a serial run none', () => {
    expect(windowCount(500, 4)).toBe(8);
    expect(windowCount(6, 4)).toBe(3);
    expect(windowCount(3, 4)).toBe(0);
    expect(windowCount(500, 1)).toBe(0);
  });

  it('tiles the whole date line: the oldest window unbounded below (or from --since), the newest above', () => {
    const windows = tileDates({ oldest: '2024-01-01', newest: '2024-01-10', count: 3 });
    expect(windows).toEqual([
      { from: '2024-01-07' },
      { from: '2024-01-04', to: '2024-01-06' },
      { to: '2024-01-03' },
    ]);
    // every date, however far before the oldest record or after the newest, is in exactly one window
    for (const date of ['1999-12-31', '2024-01-01', '2024-01-03', '2024-01-04', '2024-01-07', '2031-06-01']) {
      expect(
        windows.filter((w) => inWindow(date, w)),
        date,
      ).toHaveLength(1);
    }
    const since = tileDates({ oldest: '2024-07-01', newest: '2024-09-30', count: 4 }, '2024-07-01');
    expect(since[0].to).toBeUndefined();
    expect(since.at(-1)?.from).toBe('2024-07-01');
    expect(since.filter((w) => inWindow('2024-06-30', w))).toHaveLength(0);
    // one day or an invalid range: no windows (read as one list)
    expect(tileDates({ oldest: '2024-05-05', newest: '2024-05-05', count: 8 })).toEqual([]);
    expect(tileDates({ oldest: '2024-05-06', newest: '2024-05-05', count: 8 })).toEqual([]);
  });

  it('reads dates and timestamps, nothing else', () => {
    expect(dateOf('2024-02-29')).toBe('2024-02-29');
    expect(dateOf('2024-02-29T10:00:00Z')).toBe('2024-02-29');
    expect(dateOf(null)).toBeNull();
    expect(dateOf('29/02/2024')).toBeNull();
  });
});

describe('a long full pass read as date windows', () => {
  it('reads the windows side by side and stores exactly the source, each record once', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 200);
    let inFlight = 0;
    let maxInFlight = 0;
    source.beforePage = async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
    };
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
    });

    // each record written once: the newest window (open above) reads the first page's records again
    expect(result.objects[0]).toMatchObject({
      status: 'succeeded',
      mode: 'full',
      windows: 8,
      read: 200,
      inserted: 200,
    });
    expect(maxInFlight).toBeGreaterThanOrEqual(4);
    expectExact(source, timeEntries);
    expect(savedPass('time_entries')).toBeNull();

    // First the whole list's first page, then one probe for the oldest date, then windows only.
    const urls = source.requests.map((r) => new URL(r.url));
    expect(urls[0].searchParams.has('from')).toBe(false);
    expect(isProbe(urls[1])).toBe(true);
    expect(urls[1].searchParams.get('page')).toBe('200');
    const windowed = urls.slice(2);
    expect(windowed.every((u) => u.searchParams.has('from') || u.searchParams.has('to'))).toBe(true);

    // The windows tile the whole date line: the oldest has no lower bound, the newest no upper one,
    // and the inner boundaries spread from the oldest record to the last one on the first page.
    const listed = source.listed('time_entries');
    const bounds = [
      ...new Set(
        windowed.map((u) => `${u.searchParams.get('from') ?? ''}/${u.searchParams.get('to') ?? ''}`),
      ),
    ]
      .map((b) => b.split('/'))
      .sort((a, b) => a[0].localeCompare(b[0]));
    expect(bounds).toHaveLength(8);
    expect(bounds[0][0]).toBe('');
    expect(bounds.at(-1)?.[1]).toBe('');
    expect(bounds[0][1] >= String(listed.at(-1)?.spent_date)).toBe(true);
    expect(String(bounds.at(-1)?.[0]) <= String(listed[4].spent_date)).toBe(true);
    for (let i = 0; i + 1 < bounds.length; i++) {
      expect(Date.parse(bounds[i + 1][0]) - Date.parse(bounds[i][1])).toBe(DAY);
    }
    // At most one part-filled page per window beyond what one list would take, and the first page twice.
    expect(result.objects[0].calls).toBeLessThanOrEqual(1 + 1 + Math.ceil(200 / 5) + 8 + 1);
  });

  it('reads the list as one when its first page is not newest first (the order windows rely on)', async () => {
    // a Harvest listing by id, not by date: records newer than the first page's last date would
    // sit on later pages, outside every window
    class ById extends FakeHarvest {
      override listed(object: string) {
        return this.records(object).reverse();
      }
    }
    const source = new ById([timeEntries]);
    source.seed('time_entries', 60);
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', read: 60 });
    expect(result.objects[0].windows).toBeUndefined();
    expect(source.requests.some((r) => new URL(r.url).searchParams.has('to'))).toBe(false);
    expectExact(source, timeEntries);
  });

  it('resumes each window where it stood, reading no committed page again', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 200);
    const controller = new AbortController();
    const first = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.pages === 12) controller.abort();
      },
    });
    expect(first.result.objects[0].status).toBe('interrupted');
    const saved = savedPass('time_entries');
    const streams = saved?.streams ?? [];
    expect(streams).toHaveLength(8);
    // the windows tile the date line: the newest open above, the oldest open below
    expect(streams[0].to).toBeUndefined();
    expect(streams.at(-1)?.from).toBeUndefined();
    expect(streams.slice(1).every((s) => s.to !== undefined)).toBe(true);
    const unfinished = streams.filter((s) => s.nextUrl !== null);
    expect(unfinished.length).toBeGreaterThan(0);

    const seen = source.requests.length;
    const second = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
    });
    expect(second.result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expect(second.events.find((e) => e.type === 'object:start')).toMatchObject({ resumed: true });
    const resumed = source.requests.slice(seen).map((r) => r.url);
    // Each unfinished window starts at its saved page; finished windows and the probe are not read again.
    const firstOf = new Map<string, string>();
    for (const url of resumed) {
      const u = new URL(url);
      const key = `${u.searchParams.get('from')}/${u.searchParams.get('to')}`;
      if (!firstOf.has(key)) firstOf.set(key, url);
    }
    expect(new Set(firstOf.values())).toEqual(new Set(unfinished.map((s) => s.nextUrl)));
    expect(resumed.some((url) => isProbe(new URL(url)))).toBe(false);
    expectExact(source, timeEntries);
  });

  it('is not used for incremental passes, serial runs, short lists or objects without a required date', async () => {
    const source = new FakeHarvest([timeEntries, invoices]);
    source.seed('time_entries', 60);
    source.seed('invoices', 60);
    source.time += 3_600_000; // past the cursor overlap, so the incremental pass reads only the edits
    const serial = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1,
    });
    expect(serial.result.objects[0].windows).toBeUndefined();
    source.time += 3_600_000;
    for (let id = 1; id <= 40; id++) source.edit('time_entries', id, (r) => (r.notes = `edit ${id}`));
    const before = source.requests.length;
    const incremental = await syncSqlite(scratch.db, source, {
      objects: [timeEntries, invoices],
      perPage: 5,
    });
    // invoices (issue_date may be empty on a draft) are read as one list even in full
    expect(incremental.result.objects[0]).toMatchObject({ mode: 'incremental', read: 40 });
    expect(incremental.result.objects.every((o) => o.windows === undefined)).toBe(true);
    expect(source.requests.slice(before).some((r) => new URL(r.url).searchParams.has('to'))).toBe(false);
    expectExact(source, timeEntries);
    expectExact(source, invoices);
  });
});

describe('the end-of-list check', () => {
  /** Every countWritten query the engine makes, on the real destination. */
  function recordingCounts(queries: WrittenQuery[]) {
    return (d: Destination): Destination =>
      new Proxy(d, {
        get(target, key, receiver) {
          if (key !== 'countWritten') return Reflect.get(target, key, receiver) as unknown;
          return (table: string, query: WrittenQuery) => {
            queries.push(query);
            return target.countWritten(table, query);
          };
        },
      });
  }

  it('counts what each window wrote as it wrote it: only its last page is looked up, never a scan', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 200);
    const queries: WrittenQuery[] = [];
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
      wrap: recordingCounts(queries),
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expect(queries).toHaveLength(8);
    for (const query of queries) {
      expect(query.ids?.length).toBeGreaterThan(0);
      expect(query.range).toBeUndefined();
    }
    expectExact(source, timeEntries);
  });

  it('counts in the table for a window resumed from an earlier run (what it wrote then is not known)', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 200);
    const controller = new AbortController();
    await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.pages === 12) controller.abort();
      },
    });
    const queries: WrittenQuery[] = [];
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
      wrap: recordingCounts(queries),
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expect(queries.some((q) => q.range !== undefined && q.ids === undefined)).toBe(true);
    expectExact(source, timeEntries);
  });
});

describe('a page-numbered list that shrinks under the read', () => {
  it('is read again from its top, so no record that slid past is marked deleted', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 30);
    await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 5, concurrency: 1 });
    const listed = source.listed('time_entries');
    const gone = listed[2].id as number;
    // the first record of page 3 slides onto page 2 (already read) when a record of page 1 goes
    const slides = listed[10].id as number;
    let call = 0;
    source.beforePage = () => {
      call += 1;
      if (call === 3) source.remove('time_entries', gone);
    };
    source.time += 60_000;
    const refresh = () =>
      syncSqlite(scratch.db, source, {
        objects: [timeEntries],
        perPage: 5,
        concurrency: 1,
        fullRefresh: true,
      });
    const { result } = await refresh();
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(result.objects[0].notice).toBeUndefined();
    expect(deletedIds(scratch.db, 'time_entries')).not.toContain(slides);
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([]);
    // pages 1–3, then the whole list again: 29 records in 6 pages
    expect(result.objects[0].calls).toBe(3 + 6);

    // `gone` was read by that pass before it was deleted: the next full pass marks it, and only it
    source.beforePage = undefined;
    source.time += 60_000;
    const next = await refresh();
    expect(next.result.objects[0].deleted).toBe(1);
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([gone]);
    expect(liveIds(scratch.db, 'time_entries')).toEqual(source.records('time_entries').map((r) => r.id));
  });

  it('is read again when a record moves from behind the read to ahead of it (the total stays the same)', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 30);
    const listed = source.listed('time_entries');
    const moved = listed[1].id as number;
    // the first record of page 3 slides onto page 2 (already read) when a record of page 1 moves
    // to the oldest date: the list keeps its length, only the count at its end shows it
    const slides = listed[10].id as number;
    const oldest = String(listed[29].spent_date);
    let call = 0;
    source.beforePage = () => {
      call += 1;
      if (call === 3) source.edit('time_entries', moved, (r) => (r.spent_date = oldest));
    };
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1,
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded' });
    expect(liveIds(scratch.db, 'time_entries')).toContain(slides);
    expectExact(source, timeEntries);
    // six pages, then the whole list again
    expect(result.objects[0].calls).toBe(6 + 6);
  });

  it('loses no record of a first load when a window shrinks under it', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 200);
    let removed: number | undefined;
    source.beforePage = (_object, url) => {
      // on the second page of the first window read, delete a record of its first page
      if (removed === undefined && url.searchParams.has('to') && url.searchParams.get('page') === '2') {
        const from = url.searchParams.get('from') ?? '';
        const to = url.searchParams.get('to') ?? '';
        const inWindow = source
          .listed('time_entries')
          .filter((r) => (r.spent_date as string) >= from && (r.spent_date as string) <= to);
        removed = inWindow[0].id as number;
        source.remove('time_entries', removed);
      }
    };
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
    });
    expect(result.objects[0].status).toBe('succeeded');
    expect(removed).toBeDefined();
    const stored = new Set(liveIds(scratch.db, 'time_entries'));
    const missing = source.records('time_entries').filter((r) => !stored.has(r.id as number));
    expect(missing.map((r) => r.id)).toEqual([]);
  });

  it(`stops re-reading after ${MAX_STREAM_RESTARTS} restarts and then marks no deletions, saying why`, async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 40);
    await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 5, concurrency: 1 });
    let call = 0;
    source.beforePage = () => {
      call += 1;
      // from the second request on, every page sees one record fewer than the one before
      if (call > 1) source.remove('time_entries', source.listed('time_entries')[0].id as number);
    };
    source.time += 60_000;
    const { result } = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 1,
      fullRefresh: true,
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(result.objects[0].notice).toMatch(/marked no deletions/);
    expect(result.objects[0].calls).toBeLessThan(40);
    // nothing live was marked deleted (the deleted records are found by the next full refresh)
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([]);
    source.beforePage = undefined;
    source.time += 60_000;
    const next = await syncSqlite(scratch.db, source, {
      objects: [timeEntries],
      perPage: 5,
      fullRefresh: true,
    });
    expect(next.result.objects[0].notice).toBeUndefined();
    expect(liveIds(scratch.db, 'time_entries')).toEqual(source.records('time_entries').map((r) => r.id));
    expect(deletedIds(scratch.db, 'time_entries')).toHaveLength(40 - source.records('time_entries').length);
  });
});
