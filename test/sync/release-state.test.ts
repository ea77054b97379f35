import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import type { PassState } from '../../src/destinations/destination.js';
import { fixturePath, readJsonFixture } from '../support/fixtures.js';
import { releaseSource } from './support/release-source.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
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
 * State written by earlier releases (test/fixtures/state/, captured mid-way through a windowed full
 * refresh) resumes with today's engine exactly: each window at its saved page, no page read again,
 * no probe, and the replica ends equal to Harvest with the deleted entry marked.
 */

const timeEntries = findObject('time_entries') as ObjectSpec;

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe.each(['bounded-windows', 'open-windows'])('a replica left by %s', (release) => {
  it('resumes its interrupted full refresh exactly where each window stood', async () => {
    const db = join(dir, 'replica.db');
    copyFileSync(fixturePath(`state/${release}.db`), db);
    const row = readJsonFixture<{ pass: string }>(`state/${release}.state.json`);
    const saved = JSON.parse(row.pass) as PassState;
    const unfinished = (saved.streams ?? []).filter((s) => s.nextUrl !== null);
    expect(unfinished.length).toBeGreaterThan(0);

    // Harvest as it was when the refresh was killed: the first load's records, entry 7 deleted since
    const source = releaseSource();
    source.time += 60_000;
    source.remove('time_entries', 7);
    const { result, events } = await syncSqlite(db, source, {
      objects: [timeEntries],
      perPage: 5,
      concurrency: 4,
      fullRefresh: true,
    });
    expect(events.find((e) => e.type === 'object:start')).toMatchObject({ mode: 'full', resumed: true });
    expect(result.objects[0]).toMatchObject({ status: 'succeeded', windows: 8, deleted: 1 });

    // each unfinished window's first request is its saved next page; nothing else starts a window
    const firstOf = new Map<string, string>();
    for (const { url } of source.requests) {
      const q = new URL(url).searchParams;
      if (!q.has('from') && !q.has('to')) continue;
      const key = `${q.get('from')}/${q.get('to')}`;
      if (!firstOf.has(key)) firstOf.set(key, url);
    }
    expect(new Set(firstOf.values())).toEqual(new Set(unfinished.map((s) => s.nextUrl)));
    expect(source.requests.some((r) => new URL(r.url).searchParams.get('per_page') === '1')).toBe(false);

    expect(deletedIds(db, 'time_entries')).toEqual([7]);
    expect(liveIds(db, 'time_entries')).toEqual(source.records('time_entries').map((r) => r.id));
    const state = new Database(db, { readonly: true });
    const after = state.prepare('SELECT pass, cursor FROM _harvest_sync_state').get() as {
      pass: string | null;
      cursor: string;
    };
    state.close();
    expect(after).toEqual({ pass: null, cursor: saved.startedAt });
    // set up before the destination's own tables had versions: brought to the last step, recorded
    const schema = new Database(db, { readonly: true });
    const steps = schema.prepare('SELECT version FROM _harvest_sync_schema').pluck().all();
    schema.close();
    expect(steps).toEqual([1]);
    const expected = expectedTables(timeEntries, source.records('time_entries'), sqliteEncoders).time_entries;
    const live = readTable(db, 'time_entries').filter((r) => r._deleted_at === null);
    expect(project(live, expected)).toEqual(expected);
  });
});

describe('a saved state that is not one harvest-sync wrote', () => {
  it('fails that object with a one-line message saying what to do, and leaves the row alone', async () => {
    const db = join(dir, 'replica.db');
    copyFileSync(fixturePath('state/open-windows.db'), db);
    const handle = new Database(db);
    handle.prepare(`UPDATE _harvest_sync_state SET pass = '{"mode":"full","streams":[]}'`).run();
    handle.close();
    const { result } = await syncSqlite(db, releaseSource(), { objects: [timeEntries], perPage: 5 });
    expect(result.status).toBe('failed');
    expect(result.objects[0].status).toBe('failed');
    expect(result.objects[0].reason).toMatch(
      /^time_entries: the saved state of time_entries in .*replica\.db cannot be resumed: it is not a state harvest-sync wrote \(.*\); delete its row from _harvest_sync_state to start that object over$/,
    );
    const after = new Database(db, { readonly: true });
    const row = after.prepare('SELECT pass FROM _harvest_sync_state').get() as { pass: string };
    after.close();
    expect(row.pass).toBe('{"mode":"full","streams":[]}');
  });
});
