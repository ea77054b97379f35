import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { SqliteDestination } from '../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runSync } from '../../src/sync/engine.js';
import type { SyncEvent, SyncResult } from '../../src/sync/types.js';
import { deletedIds, liveIds, readTable } from '../sync/support/sqlite-helpers.js';
import { clientFor, seeded } from './support/world.js';

/**
 * Harvest changing while a long full pass is read as date windows: records deleted, created and
 * moved to another date between pages. Page-numbered lists shift under such a read; the promise is
 * that a record that was there all along and never touched is never lost and never marked deleted,
 * and that the next runs (incremental, then a full refresh) end exactly equal to Harvest.
 */

const timeEntries = findObject('time_entries') as ObjectSpec;
const SCALE = 0.05; // 500 time entries
const PER_PAGE = 10;

let sim: Simulator;
let dir: string;
let db: string;

beforeEach(async () => {
  sim = await startSimulator({ seed: 11, scale: SCALE, rateLimit: null });
  dir = mkdtempSync(join(tmpdir(), 'harvest-sync-churn-'));
  db = join(dir, 'replica.db');
});
afterEach(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function sync(
  options: { fullRefresh?: boolean; onEvent?: (e: SyncEvent) => void } = {},
): Promise<SyncResult> {
  const destination = new SqliteDestination(db);
  await destination.open();
  try {
    return await runSync({
      source: clientFor(sim),
      destination,
      objects: [timeEntries],
      perPage: PER_PAGE,
      concurrency: 4,
      ...options,
    });
  } finally {
    await destination.close();
  }
}

const ids = (): number[] => [...sim.records('time_entries')].map((r) => r.id as number);

/** Every third page written: one record deleted, one created, one moved to another date. */
function churn(seed: number): {
  onEvent: (e: SyncEvent) => void;
  touched: Set<number>;
  deletions: () => number;
} {
  const random = seeded(seed);
  const touched = new Set<number>();
  let deletions = 0;
  return {
    touched,
    deletions: () => deletions,
    onEvent: (event) => {
      if (event.type !== 'object:page' || event.pages % 3 !== 0) return;
      const all = ids();
      const pick = () => all[Math.floor(random() * all.length)];
      const gone = pick();
      if (sim.remove('time_entries', gone)) deletions++;
      touched.add(gone);
      const day = `2025-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;
      touched.add(sim.create('time_entries', { spent_date: day }).id as number);
      const moved = pick();
      if (moved !== gone) {
        sim.update('time_entries', moved, { spent_date: day });
        touched.add(moved);
      }
    },
  };
}

function expectEqualToHarvest(): void {
  const source = new Map([...sim.records('time_entries')].map((r) => [r.id as number, r]));
  expect(liveIds(db, 'time_entries')).toEqual([...source.keys()].sort((a, b) => a - b));
  for (const row of readTable(db, 'time_entries').filter((r) => r._deleted_at === null)) {
    const record = source.get(Number(row.id));
    expect(row.spent_date, `time entry ${String(row.id)}`).toBe(record?.spent_date);
    expect(row.updated_at, `time entry ${String(row.id)}`).toBe(record?.updated_at);
  }
}

describe('Harvest changing under a windowed full pass', () => {
  it('first load: no untouched record is lost unless the run says one may have slid past; a full refresh settles it', async () => {
    const before = new Set(ids());
    const changes = churn(1);
    const first = await sync({ onEvent: changes.onEvent });
    expect(first.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    expect(changes.deletions()).toBeGreaterThanOrEqual(5);
    const stored = new Set(liveIds(db, 'time_entries'));
    const lost = [...before].filter((id) => !changes.touched.has(id) && !stored.has(id));
    // A page-numbered read under changes this frequent (every third page) can exhaust a window's
    // restarts (MAX_STREAM_RESTARTS); from then on a record may slide past unseen, and the run says
    // so. What must never happen is a silent loss. Which of the two a run meets depends on how its
    // requests interleave with the changes.
    const warned = /may have slid past unread/.test(first.objects[0].notice ?? '');
    if (!warned) expect(lost).toEqual([]);

    const second = await sync();
    expect(second.objects[0]).toMatchObject({ status: 'succeeded', mode: 'incremental' });
    // every record Harvest has is stored as it is now (but for any the first run warned of);
    // deleted ones wait for a full pass
    const source = new Set(ids());
    const expected = [...source].filter((id) => !lost.includes(id)).sort((a, b) => a - b);
    expect(liveIds(db, 'time_entries').filter((id) => source.has(id) && !lost.includes(id))).toEqual(
      expected,
    );

    const third = await sync({ fullRefresh: true });
    expect(third.objects[0].status).toBe('succeeded');
    expectEqualToHarvest();
    expect(deletedIds(db, 'time_entries').every((id) => !source.has(id))).toBe(true);
  });

  it('full refresh: no untouched record is marked deleted, and the next full refresh is exact', async () => {
    await sync();
    expectEqualToHarvest();
    const before = new Set(ids());
    const changes = churn(2);
    const refresh = await sync({ fullRefresh: true, onEvent: changes.onEvent });
    expect(refresh.objects[0]).toMatchObject({ status: 'succeeded', windows: 8 });
    const falselyDeleted = deletedIds(db, 'time_entries').filter(
      (id) => before.has(id) && !changes.touched.has(id),
    );
    expect(falselyDeleted).toEqual([]);
    const stored = new Set(liveIds(db, 'time_entries'));
    expect([...before].filter((id) => !changes.touched.has(id) && !stored.has(id))).toEqual([]);

    const again = await sync({ fullRefresh: true });
    expect(again.objects[0]).toMatchObject({ status: 'succeeded' });
    expect(again.objects[0].notice).toBeUndefined();
    expectEqualToHarvest();
  });
});
