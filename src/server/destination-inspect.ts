import { findObject } from '../catalog/objects.js';
import { introspectDestination } from '../destinations/targets.js';
import type { DestinationScope, DestinationSnapshot } from '../destinations/index.js';
import { userMessage } from '../errors.js';

/*
 * What a pipeline's destination holds, for the pipeline page: rows per table and each object's cursor.
 * Read-only and without the run lock, on purpose: taking the lock (Destination.open) would make a
 * scheduled run starting at that moment fail as busy, and a page view must never do that. Every
 * engine reads committed data while a run writes (SQLite in WAL mode, PostgreSQL and InnoDB by MVCC).
 */

export interface TableCount {
  readonly table: string;
  /** Rows in the table, those marked deleted included; null when the table does not exist yet. */
  readonly rows: number | null;
  /** Rows with `_deleted_at` set. */
  readonly deletedRows: number | null;
}

export interface ObjectReport extends TableCount {
  readonly object: string;
  /** `updated_since` of the next incremental pass; null before a first pass completes. */
  readonly cursor: string | null;
  readonly lastFullPassAt: string | null;
  /** Whether a pass was interrupted and will resume where it stopped. */
  readonly passPending: boolean;
  readonly children: readonly TableCount[];
}

export interface DestinationReport {
  /** False when the destination could not be read (the message says why); objects are then empty. */
  readonly available: boolean;
  readonly message: string | null;
  readonly objects: readonly ObjectReport[];
}

function report(snapshot: DestinationSnapshot, objects: readonly string[]): ObjectReport[] {
  const tables = new Map(snapshot.tables.map((t) => [t.name, t]));
  const states = new Map(snapshot.states.map((s) => [s.object, s]));
  const countOf = (table: string): TableCount => {
    const found = tables.get(table);
    return { table, rows: found?.rows ?? null, deletedRows: found?.deletedRows ?? null };
  };
  return objects.flatMap((name) => {
    const spec = findObject(name);
    if (!spec) return [];
    const state = states.get(name);
    return [
      {
        object: name,
        ...countOf(spec.name),
        cursor: state?.cursor ?? null,
        lastFullPassAt: state?.lastFullPassAt ?? null,
        passPending: state?.passPending ?? false,
        children: spec.children.map((child) => countOf(child.name)),
      },
    ];
  });
}

/**
 * Reads row counts and cursors of `objects` from the destination `url` (password included, never
 * returned), placed in `scope` as a run would place it. Never throws.
 */
export async function inspectDestination(
  url: string,
  objects: readonly string[],
  scope: DestinationScope,
): Promise<DestinationReport> {
  const tables = objects.flatMap((name) => {
    const spec = findObject(name);
    return spec ? [spec.name, ...spec.children.map((c) => c.name)] : [];
  });
  try {
    const snapshot = await introspectDestination(url, tables, scope);
    if (snapshot === null) {
      return { available: false, message: 'nothing has been written to the destination yet', objects: [] };
    }
    return { available: true, message: null, objects: report(snapshot, objects) };
  } catch (error) {
    return { available: false, message: `cannot read the destination: ${userMessage(error)}`, objects: [] };
  }
}
