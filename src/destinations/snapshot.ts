import type { Destination } from './destination.js';
import { isPassPending } from './pass-state.js';
import type { DestinationSnapshot, StateSnapshot, TableSnapshot } from './engine.js';

/** A row of an engine's `_harvest_sync_state` table, as its driver returns it. */
export interface StoredStateRow {
  readonly object: string;
  readonly cursor: string | null;
  readonly pass: unknown;
  readonly last_full_pass_at: string | null;
}

/** The three reads an engine answers for introspection; the snapshot is built the same for every engine. */
export interface SnapshotReader {
  /** The table's columns in order; empty when the table does not exist. */
  columns(table: string): Promise<readonly string[]>;
  counts(table: string): Promise<{ rows: number; deleted: number }>;
  /** Every object's stored state; empty when the state table does not exist. */
  states(): Promise<readonly StoredStateRow[]>;
}

export async function readSnapshot(
  reader: SnapshotReader,
  tables: readonly string[],
): Promise<DestinationSnapshot> {
  const found: TableSnapshot[] = [];
  for (const name of tables) {
    const columns = await reader.columns(name);
    if (columns.length === 0) continue;
    const { rows, deleted } = await reader.counts(name);
    found.push({ name, rows, deletedRows: deleted, columns });
  }
  const states: StateSnapshot[] = (await reader.states()).map((row) => ({
    object: row.object,
    cursor: row.cursor,
    lastFullPassAt: row.last_full_pass_at,
    passPending: isPassPending(row.pass),
  }));
  return { tables: found, states };
}

/**
 * A server engine's test: open the destination (connect, take the run lock, create the schema or
 * database and the state tables) and close it again. Resolves with `message`.
 */
export async function openAndClose(destination: Destination, message: string): Promise<string> {
  try {
    await destination.open();
  } finally {
    await destination.close();
  }
  return message;
}
