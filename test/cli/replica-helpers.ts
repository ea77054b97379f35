import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { objectTables } from '../../src/catalog/schema.js';
import type { ColumnType, ObjectSpec } from '../../src/catalog/types.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runCli } from './cli-helpers.js';
import type { CliResult } from './cli-helpers.js';

/*
 * The same account replicated into two engines must hold the same values, column by column, once
 * each engine's representation is normalised (numerics and bigints as text or numbers, booleans as
 * 0/1 or t/f, timestamps in each engine's format, JSON as text or parsed).
 */

export type Canonical = string | number | boolean | null;

export function canonical(type: ColumnType, value: unknown): Canonical {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'bigint':
    case 'integer':
    case 'decimal':
      return Number(value);
    case 'boolean':
      return value === true || value === 1 || value === 't';
    case 'timestamp':
      return new Date(value as string).toISOString();
    case 'json':
      return JSON.stringify(typeof value === 'string' ? JSON.parse(value) : value);
    default:
      return String(value);
  }
}

/** The tables of `objects` (default: the default set) as canonical rows in id order, read by `read(table, columns)` from one engine. */
export async function replicaSnapshot(
  read: (table: string, columns: string[]) => Promise<Record<string, unknown>[]>,
  objects: readonly ObjectSpec[] = DEFAULT_OBJECTS,
): Promise<Record<string, Canonical[][]>> {
  const out: Record<string, Canonical[][]> = {};
  for (const spec of objects) {
    for (const table of objectTables(spec)) {
      const columns = [...table.columns.map((c) => c.name), '_deleted_at'];
      const rows = await read(table.name, columns);
      out[table.name] = rows.map((row) => [
        ...table.columns.map((c) => canonical(c.type, row[c.name])),
        row._deleted_at === null ? null : 'deleted',
      ]);
    }
  }
  return out;
}

/** `harvest-sync run` of the simulator's account into `destination`, unthrottled, with --json. */
export function runInto(sim: Simulator, destination: string, ...args: string[]): Promise<CliResult> {
  return runCli(['run', '--destination', destination, '--rate-limit', '10000/1', '--json', ...args], {
    HARVEST_ACCESS_TOKEN: sim.adminToken,
    HARVEST_ACCOUNT_ID: sim.accountId,
    HARVEST_BASE_URL: sim.url,
  });
}
