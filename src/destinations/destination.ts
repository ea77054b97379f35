import type { Column, JsonObject, Row, TableSchema } from '../catalog/types.js';
import type { ValueEncoders } from '../catalog/schema.js';

/**
 * Where an object's pass stands. Stored per object in the destination's state table
 * (`_harvest_sync_state`), in the same transaction as the rows it covers.
 */
export interface ObjectState {
  readonly object: string;
  /**
   * `updated_since` for the next incremental pass: the start of the last completed pass, read from
   * Harvest's own clock (ISO 8601 UTC). Null until a first pass completes.
   */
  readonly cursor: string | null;
  /** The pass under way, if one was interrupted: it resumes where each of its streams stands. */
  readonly pass: PassState | null;
  /** When the last full pass (one that can mark deletions) completed. */
  readonly lastFullPassAt: string | null;
  /**
   * Reports only: the account's first business date (YYYY-MM-DD), where their year windows start
   * (sync/reports.ts). Probed once and kept, so incremental runs do not spend calls finding it again.
   */
  readonly firstDate?: string;
}

export interface PassState {
  readonly mode: 'full' | 'incremental';
  /** Start of the pass by Harvest's clock; becomes the cursor when the pass completes. */
  readonly startedAt: string;
  /**
   * Where each stream of the pass stands: one stream for a pass read page after page, one per date
   * window for a long full pass of a dated object. The pass is complete when every stream is.
   */
  readonly streams?: readonly StreamState[];
  /**
   * Written by versions before streams: the next page of the pass's single stream (absolute URL as
   * Harvest gave it in `links.next`). Read as a one-stream pass.
   */
  readonly nextUrl?: string;
  /**
   * Full passes only: the destination's `now()` taken before the pass wrote anything, the bound of
   * the sweep on its last page. Kept here so a resumed full pass still sweeps what the whole pass missed.
   */
  readonly sweepSince?: string;
  /**
   * The destination's `now()` before the pass wrote anything: rows stamped at or after it were
   * written by this pass (see Destination.countWritten).
   */
  readonly writtenSince?: string;
  /** Harvest's total_entries for the object when the pass began, for progress. */
  readonly totalEntries?: number;
  /**
   * Set when a page-numbered list kept shrinking under the read (records deleted mid-pass), so a
   * record may have slid past unread: the pass then marks no deletions, rather than false ones.
   */
  readonly noSweep?: boolean;
}

/** One stream of a pass: the whole list, or the records of one business-date window. */
export interface StreamState {
  /** Inclusive window bounds (YYYY-MM-DD); absent for a stream over the whole list. */
  readonly from?: string;
  readonly to?: string;
  /** The stream's first page, to read it again from the top. */
  readonly firstUrl: string;
  /** The next page to read, as Harvest gave it in `links.next`; null once the stream is done. */
  readonly nextUrl: string | null;
  /** total_entries on the stream's first page (page-numbered lists): a smaller one later means a shrink. */
  readonly totalEntries?: number;
  /** How many times the stream was read again from its top (a record may have slid past). */
  readonly restarts?: number;
  /** Set when the stream was read again from its top: rows of this attempt are stamped at or after it. */
  readonly writtenSince?: string;
}

/** Rows of one child table that belong to the parents of a batch. */
export interface ChildRows {
  readonly table: string;
  /** Ids of every parent in the batch: their children not in `rows` are marked deleted. */
  readonly parentIds: readonly number[];
  readonly rows: readonly Row[];
}

/**
 * One page of an object, written atomically with the state that follows it: after `writeBatch`
 * returns, either all of it (rows, children, state, sweep) is committed, or none.
 */
export interface Batch {
  readonly table: string;
  readonly rows: readonly Row[];
  readonly children: readonly ChildRows[];
  /**
   * The page's records as Harvest sent them (the same ones `rows` and `children` were mapped from),
   * for destinations that forward records in their nested shape rather than store rows (the Singer
   * tap and the Airbyte source). Table destinations ignore it.
   */
  readonly records?: readonly JsonObject[];
  readonly state: ObjectState;
  /**
   * Set on the last page of a full pass: rows of these tables not written since `since` (the pass
   * start, destination time) get `_deleted_at`. Deleted rows that came back were undeleted by the upsert.
   */
  readonly sweep?: { readonly tables: readonly string[]; readonly since: string };
  /**
   * An earlier `now()` (the start of the read this page belongs to): asks the destination to report
   * in TableCounts.fresh how many of the main table's rows this batch stamps had not been stamped
   * at or after it. Optional to honour; a destination that reports `fresh` must also honour
   * WrittenQuery.ids.
   */
  readonly freshSince?: string;
}

/**
 * What a batch did to one table. Every row the batch carries counts once, in exactly one of
 * inserted, updated or unchanged (so they add up to the rows written, repeats included):
 * - inserted: its id was not in the table;
 * - updated: its id was there and a written column's value differs from the stored one (compared
 *   exactly: NULL is not an empty array, 1.5 is not 1.50000001), or the row was marked deleted and
 *   comes back;
 * - unchanged: stored as written already. Its `_synced_at` is still stamped, like every row a batch
 *   carries: sweeps and countWritten rely on it.
 * A record repeated within one batch is written once, as its last copy; the copies before it count
 * as unchanged. `deleted` counts rows this batch marked deleted (children missing from their
 * parent, and the sweep).
 */
export interface TableCounts {
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly deleted: number;
  /**
   * Main table, when the batch asked (Batch.freshSince): distinct rows of this batch not stamped at
   * or after `freshSince` before it — what the read adds to the rows it has written, counted as it
   * writes so that the end-of-list check needs no scan of the table.
   */
  readonly fresh?: number;
}

export interface BatchResult {
  /** Per table written or swept by the batch. */
  readonly tables: Readonly<Record<string, TableCounts>>;
}

/** Which written rows Destination.countWritten counts. */
export interface WrittenQuery {
  /** An earlier `now()`: rows stamped (`_synced_at`) at or after it. */
  readonly since: string;
  /**
   * Only rows whose `column` (a date) is within [from, to], inclusive; a bound left out is open
   * (the oldest date window has no `from`, the newest no `to`).
   */
  readonly range?: { readonly column: string; readonly from?: string; readonly to?: string };
  /** Rows with these ids are not counted. */
  readonly exceptIds?: readonly number[];
  /**
   * Only rows with these ids are counted (a page of them: one index lookup each). Honoured by every
   * destination that reports TableCounts.fresh; the engine asks for it only of those.
   */
  readonly ids?: readonly number[];
}

/** What a destination can tell about a table it holds. */
export interface TableInfo {
  readonly columns: readonly string[];
  readonly rowCount: number;
}

/**
 * A database harvest-sync writes to. One implementation per engine (`sqlite/`, `postgres/`,
 * `mysql/`, each made by its DestinationEngine, engine.ts); every implementation must pass
 * test/destinations/conformance.test.ts.
 */
export interface Destination {
  /**
   * Its engine's name (DestinationEngine.kind), or `messages`: the Singer tap's and Airbyte source's
   * stdout (src/connectors/message-destination.ts).
   */
  readonly kind: string;
  /** Display form of the destination, with any password removed. */
  readonly description: string;
  /** How this destination wants values bound; the row mappers are compiled with these. */
  readonly encoders: ValueEncoders;
  /**
   * Connects and takes the destination's run lock (one run per destination at a time).
   * Throws DestinationBusyError when another run holds it, DestinationError when unreachable.
   */
  open(): Promise<void>;
  /**
   * Creates the table if missing, adds any catalog column it lacks (never drops or retypes one),
   * and returns the columns rows must carry, in the order writeBatch expects them: the catalog's,
   * then those added by earlier runs for fields the catalog does not declare (their path and type
   * are kept in the destination's `_harvest_sync_columns` table). Columns a user added by hand are
   * left alone and never written.
   */
  ensureTable(table: TableSchema): Promise<Column[]>;
  /**
   * Adds columns for undeclared fields (schema drift found mid-run), records their path and type,
   * and returns the table's new column list (same order rule as ensureTable).
   */
  addColumns(table: string, columns: readonly Column[]): Promise<Column[]>;
  readState(object: string): Promise<ObjectState | null>;
  writeBatch(batch: Batch): Promise<BatchResult>;
  /** The destination's current time as an ISO string, for sweep bounds. */
  now(): Promise<string>;
  /**
   * How many rows of `table` were written since `query.since` (in a date range, leaving some ids
   * out). The engine compares it with Harvest's count of a list it has just read to the end, to
   * spot a record that slid past a page-numbered read.
   */
  countWritten(table: string, query: WrittenQuery): Promise<number>;
  /**
   * Ids of `table`'s live rows (not marked deleted) stamped before `since`, at most `limit`, lowest
   * first: the rows a full pass did not write, which its sweep would mark deleted. The engine
   * checks them one by one with Harvest before it sweeps. A destination that keeps no rows returns [].
   */
  unwrittenIds(table: string, since: string, limit: number): Promise<number[]>;
  tableInfo(table: string): Promise<TableInfo | null>;
  /** Releases the lock and the connection. Safe to call twice. */
  close(): Promise<void>;
}
