import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import type { PassState, StreamState } from '../../src/destinations/destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import { MAX_CHECKED_UNSEEN } from '../../src/sync/engine.js';
import { spec } from '../harvest/helpers.js';
import { TestClock } from '../support/clock.js';
import { FakeHarvest, makeRecord } from './support/fake-harvest.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import {
  deletedIds,
  expectTablesMatch,
  liveIds,
  readTable,
  syncSqlite,
  scratchDatabase,
} from './support/sqlite-helpers.js';

/*
 * Date windows whose coverage is proven, not assumed (issue 12): they tile the whole date line, the
 * probe is checked against the first page, a window's first page proves the API honours from/to,
 * and rows a full pass did not see are checked with Harvest before they are marked deleted.
 */

const timeEntries = spec('time_entries');
const DAY = 86_400_000;

const scratch = scratchDatabase();

/** 200 entries over 2024, plus the account's first entry alone on its day, weeks before the rest. */
function accountWithLoneFirstEntry(): { source: FakeHarvest; lone: number } {
  const source = new FakeHarvest([timeEntries]);
  source.seed('time_entries', 200);
  const lone = 1000;
  source.restore('time_entries', {
    ...makeRecord(timeEntries, lone, source.now()),
    spent_date: '2023-11-02',
  });
  return { source, lone };
}

const isProbe = (url: URL) => url.searchParams.get('per_page') === '1' && url.searchParams.has('page');
const options = { objects: [timeEntries], perPage: 5, concurrency: 4 };

function savedPass(): PassState | null {
  const handle = new Database(scratch.db, { readonly: true });
  try {
    const row = handle.prepare(`SELECT pass FROM _harvest_sync_state WHERE object = 'time_entries'`).get() as
      { pass: string | null } | undefined;
    return row?.pass ? (JSON.parse(row.pass) as PassState) : null;
  } finally {
    handle.close();
  }
}

function savePass(pass: PassState): void {
  const handle = new Database(scratch.db);
  try {
    handle
      .prepare(`UPDATE _harvest_sync_state SET pass = ? WHERE object = 'time_entries'`)
      .run(JSON.stringify(pass));
  } finally {
    handle.close();
  }
}

describe('a full refresh while Harvest changes between the first page and the probe', () => {
  it('never marks the lone oldest entry deleted when a record is created before the probe', async () => {
    const { source, lone } = accountWithLoneFirstEntry();
    await syncSqlite(scratch.db, source, options);
    expect(liveIds(scratch.db, 'time_entries')).toContain(lone);
    source.time += 60_000;
    let created = false;
    source.beforePage = (_object, url) => {
      // the outside tester's case: an entry created between the first page and the probe
      if (isProbe(url) && !created) {
        created = true;
        source.put('time_entries', {
          ...makeRecord(timeEntries, 5000, source.now()),
          spent_date: '2024-06-15',
        });
      }
    };
    const { result } = await syncSqlite(scratch.db, source, { ...options, fullRefresh: true });
    expect(created).toBe(true);
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([]);
    // the probe saw another list than the first page (one entry more): the rest was read as one list
    expect(result.objects[0].windows).toBeUndefined();
    expectTablesMatch(scratch.db, (name) => source.records(name), [timeEntries]);
  });

  it('reads records older than the probe said in the oldest window, which has no lower bound', async () => {
    const { source, lone } = accountWithLoneFirstEntry();
    // a probe answered from another state of the list: a later date than the true oldest entry's
    source.rewriteRecords = (_object, records, url) =>
      isProbe(url) ? records.map((r) => ({ ...r, spent_date: '2024-01-20' })) : records;
    const { result } = await syncSqlite(scratch.db, source, options);
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expect(liveIds(scratch.db, 'time_entries')).toContain(lone);
    const windows = source.requests
      .map((r) => new URL(r.url).searchParams)
      .filter((q) => q.has('from') || q.has('to'));
    expect(windows.some((q) => q.has('to') && !q.has('from'))).toBe(true);
    expect(windows.some((q) => q.has('from') && !q.has('to'))).toBe(true);
    source.time += 60_000;
    const refresh = await syncSqlite(scratch.db, source, { ...options, fullRefresh: true });
    expect(refresh.result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0, windows: 8 });
    expectTablesMatch(scratch.db, (name) => source.records(name), [timeEntries]);
  });
});

describe('rows a full pass did not see', () => {
  it('are checked one by one with Harvest: a live one is written, only the 404s are marked deleted', async () => {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', 30);
    await syncSqlite(scratch.db, source, { ...options, concurrency: 1 });
    source.time += 60_000;
    const listed = source.listed('time_entries');
    const gone = listed[20].id as number;
    source.remove('time_entries', gone);
    // Before page 3: a record of page 1 (read) is deleted and one is created at the oldest date. The
    // total stays the same and the count of records written matches Harvest's at the end, but the
    // first record of page 3 slid onto page 2, already read: only a check by id can tell.
    const [read, slides] = [listed[2].id as number, listed[10].id as number];
    let call = 0;
    source.beforePage = () => {
      call += 1;
      if (call !== 3) return;
      source.remove('time_entries', read);
      source.put('time_entries', { ...makeRecord(timeEntries, 900, source.now()), spent_date: '2023-01-01' });
    };
    const { result } = await syncSqlite(scratch.db, source, {
      ...options,
      concurrency: 1,
      fullRefresh: true,
    });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 1 });
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([gone]);
    const byId = source.requests.map((r) => new URL(r.url).pathname).filter((p) => /\/\d+$/.test(p));
    expect(byId.sort()).toEqual([`/v2/time_entries/${gone}`, `/v2/time_entries/${slides}`].sort());
    expect(liveIds(scratch.db, 'time_entries')).toContain(slides);
    // `read` was read before it was deleted: the next full pass marks it
    source.beforePage = undefined;
    source.time += 60_000;
    await syncSqlite(scratch.db, source, { ...options, fullRefresh: true });
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([read, gone].sort((a, b) => a - b));
    expect(liveIds(scratch.db, 'time_entries')).toEqual(source.records('time_entries').map((r) => r.id));
  });
});

describe(`more than ${MAX_CHECKED_UNSEEN} rows a full pass did not see (a mass deletion)`, () => {
  async function massDeletion(): Promise<{ source: FakeHarvest; gone: number[] }> {
    const source = new FakeHarvest([timeEntries]);
    source.seed('time_entries', MAX_CHECKED_UNSEEN + 300);
    await syncSqlite(scratch.db, source, { ...options, perPage: 100 });
    source.time += 3_600_000;
    const gone = source
      .records('time_entries')
      .slice(0, MAX_CHECKED_UNSEEN + 20)
      .map((r) => r.id as number);
    for (const id of gone) source.remove('time_entries', id);
    return { source, gone };
  }

  it('are marked deleted without a call each when nothing changed during the read', async () => {
    const { source, gone } = await massDeletion();
    const before = source.requests.length;
    const { result } = await syncSqlite(scratch.db, source, { ...options, perPage: 100, fullRefresh: true });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: gone.length });
    expect(result.objects[0].notice).toBeUndefined();
    expect(deletedIds(scratch.db, 'time_entries')).toEqual(gone);
    const asked = source.requests.slice(before).map((r) => new URL(r.url));
    expect(asked.some((u) => /\/\d+$/.test(u.pathname))).toBe(false);
    // one call asks whether anything was updated since the pass began: nothing was
    expect(asked.filter((u) => u.searchParams.has('updated_since'))).toHaveLength(1);
  });

  it('are left unmarked, saying so, when Harvest changed during the read', async () => {
    const { source } = await massDeletion();
    let calls = 0;
    source.beforePage = () => {
      calls += 1;
      if (calls === 2)
        source.edit(
          'time_entries',
          source.records('time_entries')[0].id as number,
          (r) => (r.notes = 'mid-read'),
        );
    };
    const { result } = await syncSqlite(scratch.db, source, { ...options, perPage: 100, fullRefresh: true });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(result.objects[0].notice).toMatch(/too many to check one by one, so none was marked deleted/);
    expect(deletedIds(scratch.db, 'time_entries')).toEqual([]);
    // Harvest quiet again (the edit older than the pass): the next full refresh marks them
    source.beforePage = undefined;
    source.time += 10 * 60_000;
    const next = await syncSqlite(scratch.db, source, { ...options, perPage: 100, fullRefresh: true });
    expect(next.result.objects[0].deleted).toBe(MAX_CHECKED_UNSEEN + 20);
  });
});

describe('an API that ignores from/to', () => {
  it('is read as one list, in about the calls of one list, and the summary says why', async () => {
    const sim = await startSimulator({
      seed: 3,
      scale: 0.05,
      rateLimit: null,
      faults: { ignoreDateFilter: true },
    });
    try {
      const perPage = 10;
      const total = simRecords(sim, 'time_entries').length;
      const { result } = await syncSqlite(scratch.db, simulatorClient(sim), {
        objects: [timeEntries],
        perPage,
        concurrency: 4,
      });
      const object = result.objects[0];
      expect(object.status).toBe('succeeded');
      // the newest window's first page is the list's own (all inside it): written before the check failed
      expect(object.read).toBeGreaterThanOrEqual(total);
      expect(object.read).toBeLessThanOrEqual(total + perPage);
      expect(object.windows).toBeUndefined();
      expect(object.notice).toMatch(/does not honour from\/to, so date windows were not used/);
      // the list's pages, the first page and probe, and the windows' first pages that were asked for
      const onePass = Math.ceil(total / perPage);
      expect(object.calls).toBeLessThanOrEqual(onePass + 2 + 8);
      const stored = new Set(liveIds(scratch.db, 'time_entries'));
      expect(simRecords(sim, 'time_entries').every((r) => stored.has(r.id as number))).toBe(true);
      expect(stored.size).toBe(total);
    } finally {
      await sim.stop();
    }
  });
});

describe('an API that serves fewer records per page than asked', () => {
  it('splits a long full pass into date windows by the pages it really has', async () => {
    const { source } = accountWithLoneFirstEntry();
    // Harvest's own recorded 2019 walk: per_page=100 pages whatever was asked; here 10 a page
    source.beforePage = (_object, url) => {
      if (Number(url.searchParams.get('per_page')) > 10) url.searchParams.set('per_page', '10');
    };
    const { result } = await syncSqlite(scratch.db, source, { objects: [timeEntries], concurrency: 4 });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expectTablesMatch(scratch.db, (name) => source.records(name), [timeEntries]);
  });
});

describe('an API that ignores updated_since', () => {
  it('still gives an exact incremental pass, and the summary says the whole list was read', async () => {
    class IgnoresUpdatedSince extends FakeHarvest {
      override fetchPage(
        object: Parameters<FakeHarvest['fetchPage']>[0],
        href: string,
        signal?: AbortSignal,
      ) {
        const url = new URL(href);
        url.searchParams.delete('updated_since');
        return super.fetchPage(object, url.toString(), signal);
      }
    }
    const source = new IgnoresUpdatedSince([timeEntries]);
    source.seed('time_entries', 12);
    source.time += 3_600_000;
    await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 50 });
    source.time += 3_600_000;
    source.edit('time_entries', 3, (r) => (r.notes = 'edited'));
    const { result } = await syncSqlite(scratch.db, source, { objects: [timeEntries], perPage: 50 });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', mode: 'incremental', read: 12 });
    expect(result.objects[0].notice).toMatch(/does not honour updated_since/);
    expectTablesMatch(scratch.db, (name) => source.records(name), [timeEntries]);
  });
});

describe('running timers', () => {
  it('are read again by every incremental pass: their hours grow while updated_at stays', async () => {
    const clock = new TestClock({ start: '2026-02-01T08:00:00Z', sleeps: 'ignore' });
    const sim = await startSimulator({ seed: 6, scale: 0.02, rateLimit: null, clock });
    try {
      const running = () => simRecords(sim, 'time_entries').filter((r) => r.is_running === true);
      expect(running().length).toBeGreaterThan(0);
      const run = () => syncSqlite(scratch.db, simulatorClient(sim), { objects: [timeEntries], perPage: 50 });
      await run();
      clock.advance(90 * 60_000);
      const second = await run();
      expect(second.result.objects[0].mode).toBe('incremental');
      const stored = new Map(readTable(scratch.db, 'time_entries').map((row) => [Number(row.id), row]));
      for (const timer of running()) {
        expect(Number(stored.get(timer.id as number)?.hours), `timer ${String(timer.id)}`).toBe(timer.hours);
        expect(stored.get(timer.id as number)?.updated_at).toBe(timer.updated_at);
      }
    } finally {
      await sim.stop();
    }
  });
});

describe('windows saved by the release before open windows (both bounds)', () => {
  it('resume, and a record outside them is checked with Harvest, not marked deleted', async () => {
    const { source, lone } = accountWithLoneFirstEntry();
    await syncSqlite(scratch.db, source, options);
    source.time += 60_000;
    const controller = new AbortController();
    const stopped = await syncSqlite(scratch.db, source, {
      ...options,
      fullRefresh: true,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.pages === 6) controller.abort();
      },
    });
    expect(stopped.result.objects[0].status).toBe('interrupted');
    const saved = savedPass() as PassState;
    const streams = saved.streams ?? [];
    expect(streams.length).toBe(8);
    // as that release saved them: the newest window bounded by the first page's last date, the
    // oldest by the probe's date (here one that missed the lone first entry)
    const bounded = (s: StreamState, bound: { from?: string; to?: string }): StreamState => {
      const withBound = (url: string | null) => {
        if (url === null) return null;
        const u = new URL(url);
        for (const [k, v] of Object.entries(bound)) u.searchParams.set(k, v);
        return u.toString();
      };
      return { ...s, ...bound, firstUrl: withBound(s.firstUrl) as string, nextUrl: withBound(s.nextUrl) };
    };
    const legacy = streams.map((s, i) =>
      i === 0
        ? bounded(s, { to: '2024-12-28' })
        : i === streams.length - 1
          ? bounded(s, { from: '2024-01-02' })
          : s,
    );
    savePass({ ...saved, streams: legacy });

    const resumed = await syncSqlite(scratch.db, source, { ...options, fullRefresh: true });
    expect(resumed.events.find((e) => e.type === 'object:start')).toMatchObject({ resumed: true });
    expect(resumed.result.objects[0]).toMatchObject({ status: 'succeeded', deleted: 0, windows: 8 });
    expect(liveIds(scratch.db, 'time_entries')).toContain(lone);
    expect(source.requests.some((r) => r.url.endsWith(`/time_entries/${lone}`))).toBe(true);
    expect(savedPass()).toBeNull();
    expectTablesMatch(scratch.db, (name) => source.records(name), [timeEntries]);
    const records: JsonObject[] = source.records('time_entries');
    expect(Date.parse(String(records.find((r) => r.id === lone)?.spent_date))).toBeLessThan(
      Date.parse('2024-01-02') - 30 * DAY,
    );
  });
});
