/**
 * Vocabulary used across harvest-sync:
 * - object: one Harvest resource we replicate (clients, time_entries, …); one table each.
 * - child: records embedded in an object's records (invoice line items), kept in their own table.
 * - column: one flattened field of an object; nested objects become `parent_child` columns.
 * - pass: one walk over an object's pages, full or incremental (updated_since), from the first page to the last.
 * - cursor: the updated_since value the next incremental pass of an object starts from.
 * - state: per-object cursor and pass position, stored in the destination with the data it covers.
 */

/** Logical column types. Each destination maps them to its own SQL types. */
export const COLUMN_TYPES = [
  'bigint', // ids and foreign keys: 64-bit, ids above 2^31 are normal in Harvest
  'integer',
  'decimal', // money, rates, hours: exact
  'boolean',
  'date', // YYYY-MM-DD
  'timestamp', // ISO 8601 UTC
  'time', // "14:59" or "2:59pm", as the account's clock setting says: kept as text
  'text',
  'json', // arrays, stored as JSON text (SQLite) or jsonb (PostgreSQL)
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** The declared shape of a record: a field is a type, or a nested object described the same way. */
export interface FieldTree {
  readonly [field: string]: ColumnType | FieldTree;
}

/** Lowest Harvest role whose token can list an object. */
export type AccessLevel = 'admin' | 'manager' | 'member';

/** Records embedded in a parent's records, stored in a table of their own (e.g. invoice line items). */
export interface ChildSpec {
  /** Table name, e.g. `invoice_line_items`. */
  readonly name: string;
  /** Field of the parent record holding the array, e.g. `line_items`. */
  readonly field: string;
  /** Column of the child table that holds the parent's id, e.g. `invoice_id`. */
  readonly parentKey: string;
  readonly fields: FieldTree;
  readonly description: string;
  /**
   * The records' id is `parent id × 1000 + position` (at most 1000 per parent): for records with no
   * id of their own (a message's recipients `{name, email}`), or whose own id repeats under other
   * parents (a project's task assignments, listed under each user's project assignment), kept then
   * in the column `ownId` names. The whole list is read with its parent, so a row at a position
   * the list no longer reaches is marked deleted: the table holds each parent's list exactly.
   */
  readonly idFromPosition?: { readonly ownId?: string };
}

/**
 * Where an object listed per parent record sits (`/v2/invoices/{id}/payments`): which object's
 * records it is listed under, and the column that holds the parent's id in its table.
 */
export interface ParentSpec {
  /** The parent object, e.g. `invoices`. */
  readonly object: string;
  /** Column of this object's table holding the parent's id, e.g. `invoice_id`. */
  readonly key: string;
}

/**
 * A Harvest report (`/v2/reports/…`): rows aggregated over a date window, no id, no updated_at. Its
 * rows carry the window they describe (`from`, `to`) and an id computed from the window and `key`.
 */
export interface ReportSpec {
  /**
   * `year`: read as windows of at most a year (`from`/`to` required by Harvest); `none`: the report
   * takes no dates (project budget) and describes the day it was read.
   */
  readonly window: 'year' | 'none';
  /** Fields that tell one row of a window from another (with the window itself). */
  readonly key: readonly string[];
}

/** How the UI groups objects in its picker. */
export type ObjectGroup = 'core' | 'billing' | 'rates' | 'reports';

/** One Harvest object: where to read it and what its records look like. */
export interface ObjectSpec {
  /** Table name, same as the API's list endpoint name. */
  readonly name: string;
  /** Path of the list endpoint, e.g. `/v2/clients`. */
  readonly endpoint: string;
  /** Key of the record array in the list response envelope. */
  readonly envelope: string;
  /** How Harvest pages this endpoint; either way the client follows `links.next`. */
  readonly paging: 'cursor' | 'page';
  /** Whether the endpoint takes `updated_since`; objects without it are re-read in full every run. */
  readonly incremental: boolean;
  /** Business-date field that `from` filters on, when `--since` applies to this object. */
  readonly sinceField?: 'spent_date' | 'issue_date';
  /**
   * A business date every record has and the endpoint filters with `from`/`to`: a long full pass of
   * this object is read as date windows side by side (see sync/windows.ts). Not set where the date
   * can be empty (a draft invoice), since a record outside every window would never be read.
   */
  readonly windowField?: 'spent_date';
  /**
   * A boolean list filter selecting records whose values change without their updated_at moving
   * (running timers, whose hours grow): an incremental pass reads those again besides what changed.
   */
  readonly runningFilter?: 'is_running';
  /**
   * Harvest's own default page size, used when `per_page` is not sent (100 for invoices, 2000
   * elsewhere): a fact about Harvest that the simulator reproduces. harvest-sync never relies on it:
   * it always sends per_page (2000 unless --per-page says otherwise).
   */
  readonly defaultPerPage: number;
  readonly access: AccessLevel;
  readonly primaryKey: 'id';
  /** Field compared for change tracking; every replicated object has it. */
  readonly cursorField: 'updated_at';
  readonly fields: FieldTree;
  readonly children: readonly ChildSpec[];
  readonly description: string;
  readonly group: ObjectGroup;
  /**
   * Listed per parent record, one call per parent (see sync/per-parent.ts): on an incremental run
   * only under parents whose updated_at moved since the cursor, under every parent on a full one.
   */
  readonly parent?: ParentSpec;
  /** The endpoint takes no `updated_since` though the object is read incrementally (rates). */
  readonly noUpdatedSince?: boolean;
  /** One record, no envelope and no id (company): stored as one row keyed by the account id. */
  readonly singleton?: boolean;
  readonly report?: ReportSpec;
}

/** A flattened column of a table. */
export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  /** Where the value sits in the API record, e.g. `['client', 'id']` for `client_id`. */
  readonly path: readonly string[];
}

/** Metadata columns on every table. */
export const META_COLUMNS = {
  syncedAt: '_synced_at',
  deletedAt: '_deleted_at',
} as const;

/** A destination table: name, primary key and ordered columns (metadata columns excluded). */
export interface TableSchema {
  readonly name: string;
  readonly primaryKey: 'id';
  readonly columns: readonly Column[];
  /** For child tables: the column holding the parent id. */
  readonly parentKey?: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A record as it goes to a destination: one value per column, in the table's column order. */
export type SqlValue = string | number | boolean | null;
export type Row = SqlValue[];
