import { Database, type Statement } from './sqlite-driver.js';
import { baseEncoders } from '../../catalog/schema.js';
import type { ValueEncoders } from '../../catalog/schema.js';
import { COLUMN_TYPES, META_COLUMNS } from '../../catalog/types.js';
import type { Column, ColumnType, Row, SqlValue, TableSchema } from '../../catalog/types.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { DestinationError } from '../../errors.js';
import { BatchCounter, lastCopyPerId, rangeConditions } from '../batch.js';
import { OWN_SCHEMA_TABLE, migrateOwnTables } from '../own-schema.js';
import { serializeStoredPass, storedObjectState } from '../pass-state.js';
import { caseInsensitiveColumn, preparedTable } from '../session.js';
import type {
  Batch,
  BatchResult,
  Destination,
  ObjectState,
  TableCounts,
  TableInfo,
  WrittenQuery,
} from '../destination.js';
import { toDestinationError } from './sqlite-errors.js';
import { SqliteRunLock } from './sqlite-lock.js';
import { checkSqlitePath } from './sqlite-path.js';
import {
  COLUMNS_TABLE,
  EXISTED_FUNCTION,
  OWN_MIGRATIONS,
  OWN_SCHEMA_SQL,
  STATE_TABLE,
  SQLITE_TYPES,
  createTableSql,
  parentIndexSql,
  quoteIdent,
  upsertSql,
} from './sqlite-sql.js';

export interface SqliteDestinationOptions {
  /** Stamps `_synced_at`/`_deleted_at` and answers `now()`. */
  readonly clock?: Clock;
  /** How long a write waits for a reader's lock before failing. Default 5 s. */
  readonly busyTimeoutMs?: number;
  /** Caps the database at this many pages (`PRAGMA max_page_count`): lets tests drive the disk-full path. */
  readonly maxPageCount?: number;
}

/** better-sqlite3 binds no booleans: SQLite has none, so they are stored as 0/1. */
export const sqliteEncoders: ValueEncoders = baseEncoders({
  boolean: (v) =>
    v === true ? 1 : v === false ? 0 : typeof v === 'object' && v !== null ? JSON.stringify(v) : v,
});

/** A table prepared by ensureTable: the columns rows carry, and its upsert compiled for them. */
interface PreparedTable {
  readonly name: string;
  readonly parentKey?: string;
  readonly catalogNames: ReadonlySet<string>;
  columns: Column[];
  idIndex: number;
  upsert: Statement | null;
}

const { syncedAt, deletedAt } = META_COLUMNS;
const lower = (name: string): string => name.toLowerCase();

/**
 * A SQLite file as a destination (better-sqlite3: synchronous, so each call below runs to its end
 * before another starts, and a batch's transaction can never interleave with another's).
 *
 * Time: `_synced_at` stamps and `now()` come from one monotonic millisecond clock. `now()` is
 * always later than every stamp already written, and stamps written after it are never earlier, so
 * a sweep with `_synced_at < since` (since = an earlier `now()`) catches exactly the rows the pass
 * did not rewrite — including a row written in the very millisecond `now()` was read.
 */
export class SqliteDestination implements Destination {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly encoders = sqliteEncoders;

  private readonly clock: Clock;
  private readonly lock: SqliteRunLock;
  private db: Database | null = null;
  private readonly tables = new Map<string, PreparedTable>();
  private readonly statements = new Map<string, Statement>();
  private lastStamp = 0;
  private writeTransaction: ((batch: Batch, stamp: string) => BatchResult) | null = null;
  /** Rows of the upsert under way that existed, that differed, that were stamped since freshSince (see upsertSql). */
  private readonly existed = { rows: 0, updated: 0, again: 0 };

  constructor(
    readonly path: string,
    private readonly options: SqliteDestinationOptions = {},
  ) {
    this.description = `sqlite:${path}`;
    this.clock = options.clock ?? systemClock;
    this.lock = new SqliteRunLock(path);
  }

  async open(): Promise<void> {
    if (this.db) return;
    checkSqlitePath(this.path);
    this.lock.acquire();
    let db: Database | undefined;
    try {
      db = new Database(this.path);
      // WAL: readers keep reading while a batch commits; NORMAL sync is durable at each checkpoint
      // and never corrupts, a power cut costing at most the last batches (their state goes with them).
      if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') {
        throw new DestinationError(`cannot open SQLite database at ${this.path}: WAL mode is not available`);
      }
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${Math.trunc(this.options.busyTimeoutMs ?? 5000)}`);
      // 8 MiB: the B-tree's inner pages and the leaves being written stay hot (upserts arrive in id
      // runs); more only adds to the process's memory
      db.pragma('cache_size = -8192');
      db.pragma('temp_store = MEMORY');
      if (this.options.maxPageCount !== undefined) {
        db.pragma(`max_page_count = ${Math.trunc(this.options.maxPageCount)}`);
      }
      await this.migrate(db);
      // Stamps must also keep increasing across runs, whatever the system clock did in between.
      const last = db
        .prepare(
          `SELECT max(t) FROM (SELECT max("updated_at") AS t FROM ${quoteIdent(STATE_TABLE)}
           UNION ALL SELECT max("added_at") FROM ${quoteIdent(COLUMNS_TABLE)})`,
        )
        .pluck()
        .get();
      if (typeof last === 'string') this.lastStamp = Math.max(this.lastStamp, Date.parse(last) || 0);
      const existed = this.existed;
      // not deterministic: SQLite must call it once per row it is reached for
      db.function(
        EXISTED_FUNCTION,
        { deterministic: false, directOnly: true },
        (differs: unknown, again: unknown) => {
          existed.rows += 1;
          if (differs === 1) existed.updated += 1;
          if (again === 1) existed.again += 1;
          return null;
        },
      );
      this.writeTransaction = db.transaction((batch: Batch, stamp: string) => this.write(batch, stamp))
        .immediate as (batch: Batch, stamp: string) => BatchResult;
      this.db = db;
    } catch (error) {
      db?.close();
      this.lock.release();
      throw toDestinationError(`cannot open SQLite database at ${this.path}`, error);
    }
  }

  async ensureTable(table: TableSchema): Promise<Column[]> {
    const db = this.requireOpen();
    const catalogNames = new Set(table.columns.map((c) => lower(c.name)));
    const run = db.transaction(() => {
      let physical = this.physicalColumns(table.name);
      if (physical.size === 0) {
        db.exec(createTableSql(table.name, table.columns));
        physical = this.physicalColumns(table.name);
      } else {
        if (physical.get('id')?.pk !== true) {
          throw new DestinationError(`table "${table.name}" exists but "id" is not its primary key`);
        }
        for (const column of table.columns) {
          if (!physical.has(lower(column.name))) this.addPhysicalColumn(table.name, column);
        }
        for (const name of [syncedAt, deletedAt]) {
          if (!physical.has(name)) {
            db.exec(`ALTER TABLE ${quoteIdent(table.name)} ADD COLUMN ${quoteIdent(name)} TEXT`);
          }
        }
      }
      if (table.parentKey) db.exec(parentIndexSql(table.name, table.parentKey));
      const extras = this.recordedColumns(table.name).filter((c) => !catalogNames.has(lower(c.name)));
      for (const column of extras) {
        if (!physical.has(lower(column.name))) this.addPhysicalColumn(table.name, column);
      }
      return [...table.columns, ...extras];
    });
    try {
      const columns = run.immediate();
      this.setTable({ name: table.name, parentKey: table.parentKey, catalogNames, columns });
      return [...columns];
    } catch (error) {
      throw toDestinationError(`cannot create table "${table.name}" in ${this.path}`, error);
    }
  }

  async addColumns(table: string, columns: readonly Column[]): Promise<Column[]> {
    const db = this.requireOpen();
    const prepared = this.prepared(table);
    const stamp = this.stamp();
    const run = db.transaction(() => {
      const physical = this.physicalColumns(table);
      const next = [...prepared.columns];
      for (const column of columns) {
        if (next.some((c) => c.name === column.name)) continue;
        const existing = caseInsensitiveColumn({ table, engine: 'SQLite' }, column, next, physical);
        if (!COLUMN_TYPES.includes(column.type)) {
          throw new DestinationError(`cannot add column "${column.name}" to "${table}": unknown type`);
        }
        // A column of that name made by hand is adopted rather than duplicated.
        if (!existing) this.addPhysicalColumn(table, column);
        this.statement(
          `INSERT OR REPLACE INTO ${quoteIdent(COLUMNS_TABLE)} ("table", "column", "path", "type", "added_at")
           VALUES (?, ?, ?, ?, ?)`,
        ).run(table, column.name, JSON.stringify(column.path), column.type, stamp);
        next.push(column);
      }
      return next;
    });
    try {
      const next = run.immediate();
      this.setTable({ ...prepared, columns: next });
      return [...next];
    } catch (error) {
      throw toDestinationError(`cannot add columns to "${table}" in ${this.path}`, error);
    }
  }

  /** Brings the destination's own tables to the last numbered step (see own-schema.ts). */
  private migrate(db: Database): Promise<void> {
    const table = quoteIdent(OWN_SCHEMA_TABLE);
    return migrateOwnTables(
      {
        createTable: async () => void db.exec(OWN_SCHEMA_SQL),
        appliedVersion: async () =>
          db.prepare(`SELECT max("version") FROM ${table}`).pluck().get() as number | null,
        exec: async (sql) => void db.exec(sql),
        record: async (m) =>
          void db
            .prepare(
              `INSERT OR IGNORE INTO ${table} ("version", "description", "applied_at") VALUES (?, ?, ?)`,
            )
            .run(m.version, m.description, new Date().toISOString()),
      },
      OWN_MIGRATIONS,
      `SQLite database at ${this.path}`,
    );
  }

  async readState(object: string): Promise<ObjectState | null> {
    this.requireOpen();
    const row = this.statement(
      `SELECT "cursor", "pass", "last_full_pass_at" FROM ${quoteIdent(STATE_TABLE)} WHERE "object" = ?`,
    ).get(object) as
      { cursor: string | null; pass: string | null; last_full_pass_at: string | null } | undefined;
    if (!row) return null;
    return storedObjectState(object, row, this.path);
  }

  async writeBatch(batch: Batch): Promise<BatchResult> {
    this.requireOpen();
    const write = this.writeTransaction;
    if (!write) throw new DestinationError(`SQLite database at ${this.path} is not open`);
    try {
      return write(batch, this.stamp());
    } catch (error) {
      throw toDestinationError(`cannot write ${batch.table} to SQLite database at ${this.path}`, error);
    }
  }

  async now(): Promise<string> {
    const ms = Math.max(this.clock.now(), this.lastStamp + 1);
    this.lastStamp = ms;
    return new Date(ms).toISOString();
  }

  async countWritten(table: string, query: WrittenQuery): Promise<number> {
    this.requireOpen();
    const where = [`${quoteIdent(syncedAt)} >= ?`];
    const params: SqlValue[] = [query.since];
    rangeConditions(query.range, quoteIdent, { where, params });
    if (query.exceptIds && query.exceptIds.length > 0) {
      where.push(`"id" NOT IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(query.exceptIds));
    }
    if (query.ids) {
      where.push(`"id" IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(query.ids));
    }
    try {
      return this.statement(`SELECT count(*) FROM ${quoteIdent(table)} WHERE ${where.join(' AND ')}`)
        .pluck()
        .get(...params) as number;
    } catch (error) {
      throw toDestinationError(`cannot count the rows of "${table}" in ${this.path}`, error);
    }
  }

  async unwrittenIds(table: string, since: string, limit: number): Promise<number[]> {
    this.requireOpen();
    try {
      return this.statement(
        `SELECT "id" FROM ${quoteIdent(table)}
         WHERE ${quoteIdent(syncedAt)} < ? AND ${quoteIdent(deletedAt)} IS NULL ORDER BY "id" LIMIT ?`,
      )
        .pluck()
        .all(since, limit)
        .map(Number);
    } catch (error) {
      throw toDestinationError(`cannot read the rows of "${table}" in ${this.path}`, error);
    }
  }

  async tableInfo(table: string): Promise<TableInfo | null> {
    this.requireOpen();
    const columns = [...this.physicalColumns(table).values()].map((c) => c.name);
    if (columns.length === 0) return null;
    const rowCount = this.statement(`SELECT count(*) FROM ${quoteIdent(table)}`)
      .pluck()
      .get() as number;
    return { columns, rowCount };
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    this.writeTransaction = null;
    this.tables.clear();
    this.statements.clear();
    try {
      db?.close();
    } finally {
      this.lock.release();
    }
  }

  /** The body of writeBatch, run inside one IMMEDIATE transaction: any throw rolls all of it back. */
  private write(batch: Batch, stamp: string): BatchResult {
    const counts = new BatchCounter();
    const main = this.upsertRows(this.prepared(batch.table), batch.rows, stamp, batch.freshSince ?? null);
    counts.add(batch.table, main);
    for (const child of batch.children) {
      const table = this.prepared(child.table);
      counts.add(child.table, this.upsertRows(table, child.rows, stamp, null));
      if (!table.parentKey) throw new DestinationError(`table "${child.table}" has no parent key`);
      if (child.parentIds.length > 0) {
        const childIds = child.rows.map((row) => row[table.idIndex]);
        const { changes } = this.statement(
          `UPDATE ${quoteIdent(child.table)} SET ${quoteIdent(deletedAt)} = ?
           WHERE ${quoteIdent(deletedAt)} IS NULL
             AND ${quoteIdent(table.parentKey)} IN (SELECT value FROM json_each(?))
             AND "id" NOT IN (SELECT value FROM json_each(?))`,
        ).run(stamp, JSON.stringify(child.parentIds), JSON.stringify(childIds));
        counts.add(child.table, { deleted: changes });
      }
    }
    this.writeState(batch.state, stamp);
    if (batch.sweep) {
      for (const table of batch.sweep.tables) {
        const { changes } = this.statement(
          `UPDATE ${quoteIdent(table)} SET ${quoteIdent(deletedAt)} = ?
           WHERE ${quoteIdent(syncedAt)} < ? AND ${quoteIdent(deletedAt)} IS NULL`,
        ).run(stamp, batch.sweep.since);
        counts.add(table, { deleted: changes });
      }
    }
    const result = counts.result();
    if (batch.freshSince === undefined) return result;
    return {
      tables: { ...result.tables, [batch.table]: { ...result.tables[batch.table], fresh: main.fresh } },
    };
  }

  /**
   * Upserts the rows (the last copy of an id repeated in the batch). Every row is written and
   * stamped; the upsert reports each row that existed (differing or not, stamped since
   * `freshSince` or not) through `existed`, so no lookup tells inserts apart.
   */
  private upsertRows(
    table: PreparedTable,
    rows: readonly Row[],
    stamp: string,
    freshSince: string | null,
  ): Partial<TableCounts> & { fresh: number } {
    if (rows.length === 0) return { fresh: 0 };
    const shape = { name: table.name, width: table.columns.length, idIndex: table.idIndex };
    const unique = lastCopyPerId(shape, rows);
    const upsert = (table.upsert ??= this.requireOpen().prepare(upsertSql(table.name, table.columns)));
    const existed = this.existed;
    existed.rows = existed.updated = existed.again = 0;
    for (const row of unique) upsert.run(...row, stamp, freshSince);
    return {
      inserted: unique.length - existed.rows,
      updated: existed.updated,
      // copies of an id repeated in the batch, before its last one, count as unchanged
      unchanged: existed.rows - existed.updated + rows.length - unique.length,
      fresh: unique.length - existed.again,
    };
  }

  private writeState(state: ObjectState, stamp: string): void {
    this.statement(
      `INSERT INTO ${quoteIdent(STATE_TABLE)} ("object", "cursor", "pass", "last_full_pass_at", "updated_at")
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("object") DO UPDATE SET "cursor" = excluded."cursor", "pass" = excluded."pass",
         "last_full_pass_at" = excluded."last_full_pass_at", "updated_at" = excluded."updated_at"`,
    ).run(state.object, state.cursor, serializeStoredPass(state), state.lastFullPassAt, stamp);
  }

  /** A write's stamp: never earlier than any stamp or `now()` already given out. */
  private stamp(): string {
    const ms = Math.max(this.clock.now(), this.lastStamp);
    this.lastStamp = ms;
    return new Date(ms).toISOString();
  }

  private requireOpen(): Database {
    if (!this.db) throw new DestinationError(`SQLite database at ${this.path} is not open`);
    return this.db;
  }

  /** Statements are compiled once per connection and SQL text (identifiers included). */
  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.requireOpen().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private prepared(table: string): PreparedTable {
    return preparedTable(this.tables, table);
  }

  private setTable(table: Omit<PreparedTable, 'idIndex' | 'upsert'>): void {
    const idIndex = table.columns.findIndex((c) => c.name === 'id');
    if (idIndex < 0) throw new DestinationError(`table "${table.name}" has no "id" column`);
    this.tables.set(table.name, { ...table, idIndex, upsert: null });
  }

  /** The table's columns keyed by lower-cased name; empty when the table does not exist. */
  private physicalColumns(table: string): Map<string, { name: string; pk: boolean }> {
    const rows = this.statement('SELECT "name", "pk" FROM pragma_table_info(?)').all(table) as Array<{
      name: string;
      pk: number;
    }>;
    return new Map(rows.map((r) => [lower(r.name), { name: r.name, pk: r.pk > 0 }]));
  }

  private addPhysicalColumn(table: string, column: Column): void {
    this.requireOpen().exec(
      `ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(column.name)} ${SQLITE_TYPES[column.type]}`,
    );
  }

  /** Columns earlier runs added for undeclared fields, oldest first. */
  private recordedColumns(table: string): Column[] {
    const rows = this.statement(
      `SELECT "column", "path", "type" FROM ${quoteIdent(COLUMNS_TABLE)} WHERE "table" = ? ORDER BY rowid`,
    ).all(table) as Array<{ column: string; path: string; type: string }>;
    return rows.map((r) => {
      const type = COLUMN_TYPES.find((t) => t === r.type);
      const path: unknown = JSON.parse(r.path);
      if (!type || !Array.isArray(path) || !path.every((p) => typeof p === 'string')) {
        throw new DestinationError(
          `column "${r.column}" of "${table}" has a corrupt entry in ${COLUMNS_TABLE}`,
        );
      }
      return { name: r.column, type: type satisfies ColumnType, path };
    });
  }
}
