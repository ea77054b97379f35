import type { ObjectSpec } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import type { Destination } from '../destinations/destination.js';
import type { HarvestSource } from '../harvest/types.js';

export interface SyncOptions {
  readonly source: HarvestSource;
  /** Already opened by the caller (who holds its run lock) and closed by the caller. */
  readonly destination: Destination;
  readonly objects: readonly ObjectSpec[];
  /** Re-read every object in full and mark rows whose record is gone as deleted. */
  readonly fullRefresh?: boolean;
  /** YYYY-MM-DD: limits time entries, expenses, invoices and estimates to business dates from then on. */
  readonly since?: string;
  /** Page size for every object, 1–2000; default 2000 (fewest calls), sent as per_page on every list. */
  readonly perPage?: number;
  /**
   * How many requests are in flight at once: objects read side by side, or date windows of one long
   * object (all share the source's rate limiter). Default 4; 1 reads everything in order.
   */
  readonly concurrency?: number;
  /** Aborting stops the run after the batch being written commits; the run ends `interrupted`. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: SyncEvent) => void;
  readonly clock?: Clock;
}

export type PassMode = 'full' | 'incremental';

/**
 * What a run did to an object's rows. inserted, updated and unchanged count the object's own
 * records (one row each in its table; together they add up to the records read): new, stored with
 * other values (or marked deleted and back), or stored exactly as read. Line items are part of
 * their invoice or estimate and are not counted there: Harvest changes a record's updated_at
 * whenever its line items change, so such a record counts as updated. deleted counts the object's
 * rows and its line items marked deleted.
 */
export interface RowCounts {
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly deleted: number;
}

export interface ObjectResult extends RowCounts {
  readonly object: string;
  readonly status: 'succeeded' | 'skipped' | 'failed' | 'interrupted';
  readonly mode: PassMode;
  /** Why it was skipped or failed. */
  readonly reason?: string;
  readonly read: number;
  readonly pages: number;
  readonly calls: number;
  readonly rateLimitWaits: number;
  readonly retries: number;
  readonly seconds: number;
  /** The cursor after this run. */
  readonly cursor: string | null;
  /** How many date windows the pass was read as, when it was split (see sync/windows.ts). */
  readonly windows?: number;
  /** Something the user should know about a pass that succeeded (e.g. deletions not marked). */
  readonly notice?: string;
}

export interface SyncResult {
  /**
   * `succeeded` also when some objects were skipped for lack of permission (see their reasons), but
   * `failed` when every object was: a run that synced nothing is not a success.
   */
  readonly status: 'succeeded' | 'failed' | 'interrupted';
  readonly objects: readonly ObjectResult[];
  /** First failure, one line, safe to show. */
  readonly error?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export type SyncEvent =
  | {
      readonly type: 'object:start';
      readonly object: string;
      readonly mode: PassMode;
      readonly resumed: boolean;
    }
  | {
      readonly type: 'object:page';
      readonly object: string;
      readonly records: number;
      readonly read: number;
      readonly pages: number;
      readonly totalEntries: number | null;
      /** What this page did to the object's rows. */
      readonly written: RowCounts;
      /** The same, summed over the object so far in this run (as `read` sums `records`). */
      readonly counts: RowCounts;
    }
  | { readonly type: 'object:done'; readonly result: ObjectResult }
  | {
      readonly type: 'schema:column-added';
      readonly table: string;
      readonly column: string;
      readonly columnType: string;
    }
  | { readonly type: 'run:done'; readonly result: SyncResult };
