import { expect } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { JsonObject } from '../../src/catalog/types.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { expectedTables, project, readTable } from '../sync/support/sqlite-helpers.js';

/** Each stream's records by id, the last emitted winning (what a target that upserts by key holds). */
export type Replica = Map<string, Map<number, JsonObject>>;

export function applyRecords(
  replica: Replica,
  records: ReadonlyArray<{ stream: string; data: JsonObject }>,
): Replica {
  for (const { stream, data } of records) {
    let byId = replica.get(stream);
    if (!byId) replica.set(stream, (byId = new Map()));
    byId.set(data.id as number, data);
  }
  return replica;
}

/**
 * The connector's records, flattened exactly as `harvest-sync run` flattens Harvest's (independent
 * of the engine: test/sync/support/sqlite-helpers.ts), equal to the live rows `harvest-sync run`
 * wrote into SQLite, table by table (line items from the nested `line_items`), value by value.
 */
export function expectSameAsSqlite(replica: Replica, db: string): void {
  for (const spec of DEFAULT_OBJECTS) {
    const records = [...(replica.get(spec.name)?.values() ?? [])];
    const expected = expectedTables(spec, records, sqliteEncoders);
    for (const [table, rows] of Object.entries(expected)) {
      const live = project(
        readTable(db, table).filter((r) => r._deleted_at === null),
        rows,
      );
      expect(live.length, `${table}: rows`).toBeGreaterThan(0);
      expect(
        live.map((r) => r.id),
        `${table}: ids`,
      ).toEqual(rows.map((r) => r.id));
      // the first differing row, column by column, rather than two whole tables
      const at = rows.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(live[i]));
      if (at >= 0) expect(live[at], `${table} row ${String(rows[at].id)}`).toEqual(rows[at]);
    }
  }
}
