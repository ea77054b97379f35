import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childTable, compileRowMapper, objectTable } from '../../../src/catalog/schema.js';
import type { ValueEncoders } from '../../../src/catalog/schema.js';
import type { ChildSpec, JsonObject, ObjectSpec, SqlValue } from '../../../src/catalog/types.js';
import { sqliteEncoders } from '../../../src/destinations/sqlite/sqlite-destination.js';
import type { Destination } from '../../../src/destinations/destination.js';
import { SqliteDestination } from '../../../src/destinations/sqlite/sqlite-destination.js';
import type { HarvestSource } from '../../../src/harvest/types.js';
import { runSync } from '../../../src/sync/engine.js';
import type { SyncEvent, SyncOptions, SyncResult } from '../../../src/sync/types.js';

export type TableRow = Record<string, SqlValue>;

/** A fresh directory for a test's database files; removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-engine-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A SQLite file path in a directory of its own, fresh for each test of the file that calls this. */
export function scratchDatabase(): { readonly db: string } {
  const scratch = { db: '' };
  let cleanup = (): void => undefined;
  beforeEach(() => {
    const made = tempDir();
    cleanup = made.cleanup;
    scratch.db = join(made.dir, 'harvest.db');
  });
  afterEach(() => cleanup());
  return scratch;
}

/** Every row of a table, ascending id, without `_synced_at` (which differs between any two runs). */
export function readTable(path: string, table: string): TableRow[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as TableRow[];
    return rows.map(({ _synced_at: _ignored, ...rest }) => rest);
  } finally {
    db.close();
  }
}

/** Ids of a table's rows that are not marked deleted, ascending. */
export function liveIds(path: string, table: string): number[] {
  return readTable(path, table)
    .filter((r) => r._deleted_at === null)
    .map((r) => Number(r.id));
}

export function deletedIds(path: string, table: string): number[] {
  return readTable(path, table)
    .filter((r) => r._deleted_at !== null)
    .map((r) => Number(r.id));
}

/**
 * What the tables of `spec` must hold for these source records, flattened independently of the
 * engine (catalog columns only, no row deleted), keyed by table.
 */
/** A child item as stored when its id comes from its position (ChildSpec.idFromPosition). */
function positioned(child: ChildSpec, item: JsonObject, id: number): JsonObject {
  if (!child.idFromPosition) return item;
  const ownId = child.idFromPosition.ownId;
  // already as harvest-sync stores it (a Singer or Airbyte record)
  if (ownId === undefined ? item.id !== undefined : item[ownId] !== undefined) return item;
  return { ...item, id, ...(ownId ? { [ownId]: item.id } : {}) };
}

export function expectedTables(
  spec: ObjectSpec,
  records: readonly JsonObject[],
  encoders: ValueEncoders,
): Record<string, TableRow[]> {
  const byId = (a: TableRow, b: TableRow) => Number(a.id) - Number(b.id);
  const main = objectTable(spec).columns;
  const mapMain = compileRowMapper(main, encoders);
  const out: Record<string, TableRow[]> = {
    [spec.name]: records
      .map((r) => ({ ...Object.fromEntries(mapMain(r).map((v, i) => [main[i].name, v])), _deleted_at: null }))
      .sort(byId),
  };
  for (const child of spec.children) {
    const columns = childTable(child).columns.slice(1);
    const map = compileRowMapper(columns, encoders);
    out[child.name] = records
      .flatMap((r) =>
        (r[child.field] as JsonObject[]).map((item, position) => ({
          [child.parentKey]: r.id as number,
          ...Object.fromEntries(
            map(positioned(child, item, (r.id as number) * 1000 + position)).map((v, i) => [
              columns[i].name,
              v,
            ]),
          ),
          _deleted_at: null,
        })),
      )
      .sort(byId);
  }
  return out;
}

/** Asserts that the SQLite file holds exactly these source records for each object (its tables, children included). */
export function expectTablesMatch(
  path: string,
  recordsOf: (object: string) => readonly JsonObject[],
  objects: readonly ObjectSpec[],
): void {
  for (const object of objects) {
    const expected = expectedTables(object, recordsOf(object.name), sqliteEncoders);
    for (const [table, rows] of Object.entries(expected)) {
      expect(project(readTable(path, table), rows), table).toEqual(rows);
    }
  }
}

/** The rows of a table restricted to the given columns (plus _deleted_at), for exact comparison. */
export function project(rows: readonly TableRow[], like: readonly TableRow[]): TableRow[] {
  const names = like.length > 0 ? Object.keys(like[0]) : [];
  return rows.map((r) => Object.fromEntries(names.map((n) => [n, r[n]])));
}

export interface SyncRun {
  readonly result: SyncResult;
  readonly events: SyncEvent[];
}

/** One run into a SQLite file, opened and closed around it like the CLI does. */
export async function syncSqlite(
  path: string,
  source: HarvestSource,
  options: Omit<SyncOptions, 'source' | 'destination'> & {
    wrap?: (destination: Destination) => Destination;
  },
): Promise<SyncRun> {
  const real = new SqliteDestination(path);
  await real.open();
  const events: SyncEvent[] = [];
  try {
    const destination = options.wrap ? options.wrap(real) : real;
    const result = await runSync({
      ...options,
      source,
      destination,
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(event);
      },
    });
    return { result, events };
  } finally {
    await real.close();
  }
}
