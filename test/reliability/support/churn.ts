import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findObject } from '../../../src/catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../../../src/catalog/types.js';
import { SqliteDestination, sqliteEncoders } from '../../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator } from '../../../src/simulator/index.js';
import type { Simulator } from '../../../src/simulator/index.js';
import { runSync } from '../../../src/sync/engine.js';
import type { SyncResult } from '../../../src/sync/types.js';
import { expectedTables, project, readTable } from '../../sync/support/sqlite-helpers.js';
import type { TableRow } from '../../sync/support/sqlite-helpers.js';
import { clientFor, seeded } from './world.js';

/**
 * The churn property: Harvest changing before *every* request of a read (records created, deleted
 * and moved to another date, including far before the oldest record and after the newest), during
 * a windowed first load and a full refresh. Whatever the seed:
 * - no record Harvest has is ever marked deleted in the replica;
 * - once Harvest is quiet, the next incremental run stores every record as Harvest has it, and the
 *   next full refresh leaves the replica exactly equal to Harvest (deletions marked, nothing else).
 * Used by churn-property.test.ts (a few seeds in `npm test`) and soak.ts (many more).
 */

const DAY_MS = 86_400_000;
const timeEntries = findObject('time_entries') as ObjectSpec;

export interface ChurnOutcome {
  readonly seed: number;
  /** Every broken promise, as a line naming the run and the records. Empty: the property held. */
  readonly problems: string[];
  /** Whether the churned passes were read as date windows (else one list, after a moved probe). */
  readonly windowed: boolean;
  readonly changes: number;
  readonly requests: number;
}

/** What the simulator does before each request: 0–2 changes to time entries, drawn from the seed. */
function churner(sim: Simulator, seed: number): { hook: () => void; changes: () => number } {
  const random = seeded(seed);
  const dates = [...sim.records('time_entries')].map((r) => Date.parse(String(r.spent_date)));
  const oldest = Math.min(...dates);
  const newest = Math.max(...dates);
  const day = (): string => {
    const roll = random();
    // far before the oldest record, after the newest, or anywhere between
    const ms =
      roll < 0.15
        ? oldest - (10 + Math.floor(random() * 50)) * DAY_MS
        : roll < 0.3
          ? newest + (1 + Math.floor(random() * 20)) * DAY_MS
          : oldest + Math.floor(random() * ((newest - oldest) / DAY_MS + 1)) * DAY_MS;
    return new Date(ms).toISOString().slice(0, 10);
  };
  let changes = 0;
  const hook = (): void => {
    if (random() < 0.4) return;
    const ops = 1 + Math.floor(random() * 2);
    for (let i = 0; i < ops; i++) {
      const ids = [...sim.records('time_entries')].map((r) => r.id as number);
      const pick = () => ids[Math.floor(random() * ids.length)];
      const kind = random();
      if (kind < 0.35) sim.create('time_entries', { spent_date: day() });
      else if (kind < 0.65) sim.remove('time_entries', pick());
      else sim.update('time_entries', pick(), { spent_date: day() });
      changes++;
    }
  };
  return { hook, changes: () => changes };
}

/** Runs the property for one seed against a fresh simulator and replica. */
export async function churnSeed(seed: number): Promise<ChurnOutcome> {
  const sim = await startSimulator({ seed, scale: 0.01, rateLimit: null, timersGrow: false });
  const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-churn-property-'));
  const db = join(dir, 'replica.db');
  const problems: string[] = [];
  let windowed = false;
  try {
    // an account's first entry, alone on its day weeks before the rest
    const dates = [...sim.records('time_entries')].map((r) => String(r.spent_date)).sort();
    const lone = new Date(Date.parse(dates[0]) - 40 * DAY_MS).toISOString().slice(0, 10);
    sim.create('time_entries', { spent_date: lone });
    const perPage = 4 + (seed % 6);
    const concurrency = 2 + (seed % 3);
    const sync = (fullRefresh: boolean) => syncOnce(sim, db, { perPage, concurrency, fullRefresh });
    const churn = churner(sim, seed * 7919 + 13);
    sim.resetCounters();
    sim.onRequest(churn.hook);
    for (const [name, fullRefresh] of [
      ['first load', false],
      ['full refresh', true],
    ] as const) {
      const result = await sync(fullRefresh);
      problems.push(...failed(name, result), ...falselyDeleted(name, sim, db));
      windowed ||= (result.objects[0].windows ?? 0) > 0;
    }
    const requests = sim.counters.total;
    sim.onRequest(null);
    const incremental = await sync(false);
    problems.push(...failed('incremental run', incremental), ...notStored('incremental run', sim, db));
    const refresh = await sync(true);
    problems.push(...failed('last full refresh', refresh), ...notExact('last full refresh', sim, db));
    return { seed, problems, windowed, changes: churn.changes(), requests };
  } finally {
    sim.onRequest(null);
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function syncOnce(
  sim: Simulator,
  db: string,
  options: { perPage: number; concurrency: number; fullRefresh: boolean },
): Promise<SyncResult> {
  const destination = new SqliteDestination(db);
  await destination.open();
  try {
    return await runSync({ source: clientFor(sim), destination, objects: [timeEntries], ...options });
  } finally {
    await destination.close();
  }
}

function failed(run: string, result: SyncResult): string[] {
  const object = result.objects[0];
  return object.status === 'succeeded' ? [] : [`${run}: ${object.status} (${object.reason ?? ''})`];
}

function falselyDeleted(run: string, sim: Simulator, db: string): string[] {
  const live = new Set([...sim.records('time_entries')].map((r) => r.id as number));
  const wrong = readTable(db, 'time_entries')
    .filter((row) => row._deleted_at !== null && live.has(Number(row.id)))
    .map((row) => Number(row.id));
  return wrong.length === 0 ? [] : [`${run}: live time entries marked deleted: ${wrong.join(', ')}`];
}

/** The rows Harvest's records must be stored as, by id. */
function expectedRows(sim: Simulator): Map<number, TableRow> {
  const records: JsonObject[] = [...sim.records('time_entries')];
  const rows = expectedTables(timeEntries, records, sqliteEncoders).time_entries;
  return new Map(rows.map((row) => [Number(row.id), row]));
}

/** Every record Harvest has is stored, live, with Harvest's values (rows of deleted records aside). */
function notStored(run: string, sim: Simulator, db: string): string[] {
  const expected = expectedRows(sim);
  const like = [...expected.values()];
  const stored = new Map(project(readTable(db, 'time_entries'), like).map((row) => [Number(row.id), row]));
  const wrong = [...expected].filter(([id, row]) => JSON.stringify(stored.get(id)) !== JSON.stringify(row));
  return wrong.length === 0
    ? []
    : [`${run}: time entries not stored as Harvest has them: ${wrong.map(([id]) => id).join(', ')}`];
}

/** The replica is Harvest: its records stored exactly, every other row marked deleted. */
function notExact(run: string, sim: Simulator, db: string): string[] {
  const expected = expectedRows(sim);
  const notDeleted = readTable(db, 'time_entries')
    .filter((row) => row._deleted_at === null && !expected.has(Number(row.id)))
    .map((row) => Number(row.id));
  const problems = notStored(run, sim, db);
  if (notDeleted.length > 0)
    problems.push(`${run}: rows of deleted time entries not marked: ${notDeleted.join(', ')}`);
  return problems;
}
