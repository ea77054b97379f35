import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { COLUMN_TYPES, META_COLUMNS } from '../../catalog/types.js';
import type { Column, Row, SqlValue, TableSchema } from '../../catalog/types.js';
import { DestinationBusyError, DestinationError } from '../../errors.js';
import { BatchCounter, lastCopyPerId } from '../batch.js';
import type { Batch, BatchResult, ChildRows, Destination, ObjectState, TableCounts } from '../destination.js';
import type { TableInfo, WrittenQuery } from '../destination.js';
import { OWN_SCHEMA_TABLE, migrateOwnTables } from '../own-schema.js';
import { stateRowValues } from '../pass-state.js';
import type { StoredState } from '../pass-state.js';
import { ServerDestination } from '../server-destination.js';
import { copyChunks, copyField, postgresEncoders } from './postgres-copy.js';
import { loadPgDriver } from './pg-driver.js';
import type { PgDriver } from './pg-driver.js';
import { isConnectionLost, toDestinationError } from './postgres-errors.js';
import {
  COLUMNS_TABLE,
  POSTGRES_TYPES,
  STATE_TABLE,
  createTableSql,
  markOrphansSql,
  mergeSql,
  probeSql,
  quoteIdent,
  ownMigrations,
  ownSchemaSql,
  sweepSql,
  touchSql,
  writeStateSql,
} from './postgres-sql.js';
import { parsePostgresUrl } from './postgres-url.js';
import type { PostgresTarget } from './postgres-url.js';

export interface PostgresDestinationOptions {
  /** How long open() waits for the server to answer. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long open() waits for a run lock held by another session before reporting it busy. Default 2 s. */
  readonly lockWaitMs?: number;
}

/** A table prepared by ensureTable: its columns, staging table and SQL, compiled once. */
interface PreparedTable {
  readonly name: string;
  readonly parentKey?: string;
  readonly columns: readonly Column[];
  readonly idIndex: number;
  /** Schema-qualified, quoted. */
  readonly target: string;
  /**
   * The session's temporary table that batches are COPYed into, emptied by TRUNCATE before each
   * use. Measured on 2000-row time-entry batches: ON COMMIT DELETE ROWS costs ~1.5 ms per such table
   * at every commit (all of them, ~20 tables), and CREATE … ON COMMIT DROP per batch ~2 ms more than
   * a TRUNCATE.
   */
  readonly stage: string;
  readonly copySql: string;
  /** COPY straight into the table, stamp included: for a batch of ids the table does not hold yet. */
  readonly copyDirectSql: string;
  /** The same without the stamp, which the column's default (the transaction's now()) fills in. */
  readonly copyNewSql: string;
  /** Named prepared statements: pg parses and plans them once per session. */
  readonly merge: { readonly name: string; readonly text: string };
  /**
   * Planned at each use, unlike the named statements: its plan depends on the table's size, and one
   * cached while the table was small (a sequential scan) would be kept as it grows.
   */
  readonly touch: string;
  readonly markOrphans?: { readonly name: string; readonly text: string };
}

const { syncedAt, deletedAt } = META_COLUMNS;
const RESERVED = new Set<string>([syncedAt, deletedAt]);

/**
 * Two-key advisory lock namespace, so our per-schema lock cannot collide with another
 * application's single-key locks.
 */
const LOCK_SQL = "SELECT pg_advisory_lock(hashtext('harvest-sync'), hashtext($1))";
/** SQLSTATE of a lock wait that reached lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';
const UNIQUE_VIOLATION = '23505';
const UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtext('harvest-sync'), hashtext($1))";

const POSTGRES_DIALECT = {
  name: 'PostgreSQL',
  begin: 'BEGIN',
  quoteIdent,
  isConnectionLost,
  toDestinationError,
};

/**
 * A PostgreSQL schema as a destination, written through one dedicated connection.
 *
 * The run lock is a session-level advisory lock on the schema: it lives exactly as long as the
 * connection, so a killed process (or a dropped connection) frees it with nothing stale left behind.
 *
 * Calls are queued and run one at a time: the engine writes several objects concurrently, and
 * their transactions must not interleave on the one connection.
 *
 * Time: `_synced_at` and `_deleted_at` are the writing transaction's `now()` (its start), and
 * `now()` below is the server's `now()` in a transaction of its own, at microsecond precision.
 * A transaction that starts after `now()` answered stamps a time at or after it, so a sweep with
 * `_synced_at < since` never catches a row the pass wrote — even one stamped at exactly `since`.
 */
export class PostgresDestination
  extends ServerDestination<pg.Client, PreparedTable, PostgresTarget>
  implements Destination
{
  readonly kind = 'postgres' as const;
  readonly encoders = postgresEncoders;
  readonly schema: string;

  /** Loaded by open(). */
  private driver: PgDriver | null = null;
  private generation = 0;
  /**
   * Tables whose last batch held only ids they did not have (a first load, page after page): the
   * next batch is COPYed without the lookup first (copyNew). Forgotten when a batch meets an id.
   */
  private readonly allNew = new Set<string>();

  constructor(
    url: string,
    private readonly options: PostgresDestinationOptions = {},
  ) {
    super(parsePostgresUrl(url), POSTGRES_DIALECT);
    this.schema = this.target.schema;
  }

  protected async connect(): Promise<pg.Client> {
    const driver = await loadPgDriver();
    this.driver = driver;
    const client = new driver.pg.Client({
      connectionString: this.target.connectionString,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 10_000,
      application_name: 'harvest-sync',
      keepAlive: true,
    });
    // Without a listener, a connection dropped while idle would crash the process.
    client.on('error', (error) => this.markLost(error));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.wrap(this.connectContext(), error);
    }
    try {
      await this.takeLock(client);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      await this.migrate(client);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.wrap(`cannot open ${this.description}`, error);
    }
    return client;
  }

  /**
   * Waits a moment for the lock rather than trying once: the server frees the lock of a run killed a
   * moment ago only when its backend notices the closed socket, which may be after the statement it
   * was running ends. A live run keeps the lock, and the wait ends in DestinationBusyError.
   */
  private async takeLock(client: pg.Client): Promise<void> {
    const waitMs = Math.max(1, Math.trunc(this.options.lockWaitMs ?? 2000));
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${waitMs}`);
      // A session-level lock: it outlives this transaction and lasts as long as the connection.
      await client.query(LOCK_SQL, [this.schema]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) {
        throw new DestinationBusyError(
          `another run is writing to ${this.description}; wait for it to finish or stop it`,
        );
      }
      throw error;
    }
    // Let the server notice a vanished client even mid-statement (PostgreSQL 14+), so the lock of a
    // run whose machine died does not outlive it by the TCP timeout.
    if (Number(await this.setting(client, 'server_version_num')) >= 140000) {
      await client.query("SET client_connection_check_interval = '2s'");
    }
  }

  private async setting(client: pg.Client, name: string): Promise<string> {
    const { rows } = await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name]);
    return rows[0].value;
  }

  ensureTable(table: TableSchema): Promise<Column[]> {
    return this.exclusive(() =>
      this.transaction(`cannot create table "${table.name}" in ${this.description}`, async (client) => {
        const catalogNames = new Set(table.columns.map((c) => c.name));
        for (const column of table.columns) this.checkColumn(table.name, column);
        const target = this.qualified(table.name);
        let physical = await this.physicalColumns(client, table.name);
        if (physical.size === 0) {
          await client.query(createTableSql(target, table.columns));
          physical = await this.physicalColumns(client, table.name);
        } else {
          await this.checkPrimaryKey(client, table.name);
          for (const column of table.columns) {
            if (!physical.has(column.name)) await this.addPhysicalColumn(client, target, column);
          }
          for (const name of [syncedAt, deletedAt]) {
            if (!physical.has(name)) {
              await client.query(
                `ALTER TABLE ${target} ADD COLUMN IF NOT EXISTS ${quoteIdent(name)} timestamptz`,
              );
            }
          }
          await this.stampByDefault(client, table.name, target);
        }
        if (table.parentKey) {
          const index = quoteIdent(`${table.name}_${table.parentKey}_idx`.slice(0, 63));
          await client.query(
            `CREATE INDEX IF NOT EXISTS ${index} ON ${target} (${quoteIdent(table.parentKey)})`,
          );
        }
        const extras = (await this.recordedColumns(client, table.name)).filter(
          (c) => !catalogNames.has(c.name),
        );
        for (const column of extras) {
          if (!physical.has(column.name)) await this.addPhysicalColumn(client, target, column);
        }
        const columns = [...table.columns, ...extras];
        await this.prepare(client, table.name, table.parentKey, columns);
        return [...columns];
      }),
    );
  }

  addColumns(table: string, columns: readonly Column[]): Promise<Column[]> {
    return this.exclusive(() =>
      this.transaction(`cannot add columns to "${table}" in ${this.description}`, async (client) => {
        const prepared = this.prepared(table);
        const next = [...prepared.columns];
        for (const column of columns) {
          if (next.some((c) => c.name === column.name)) continue;
          this.checkColumn(table, column);
          if (RESERVED.has(column.name)) {
            throw new DestinationError(
              `cannot add column "${column.name}" to "${table}": the name is reserved`,
            );
          }
          // A column of that name made by hand is adopted rather than duplicated.
          await this.addPhysicalColumn(client, prepared.target, column);
          await client.query(
            `INSERT INTO ${this.qualified(COLUMNS_TABLE)} ("table", "column", "path", "type", "added_at")
             VALUES ($1, $2, $3, $4, now())
             ON CONFLICT ("table", "column") DO UPDATE SET "path" = EXCLUDED."path", "type" = EXCLUDED."type"`,
            [table, column.name, JSON.stringify(column.path), column.type],
          );
          next.push(column);
        }
        await this.prepare(client, table, prepared.parentKey, next);
        return [...next];
      }),
    );
  }

  /** Brings the destination's own tables to the last numbered step (see own-schema.ts). */
  private migrate(client: pg.Client): Promise<void> {
    const table = this.qualified(OWN_SCHEMA_TABLE);
    return migrateOwnTables(
      {
        createTable: async () => void (await client.query(ownSchemaSql(this.schema))),
        appliedVersion: async () => {
          const { rows } = await client.query<{ v: number | null }>(
            `SELECT max("version") AS v FROM ${table}`,
          );
          return rows[0].v;
        },
        exec: async (sql) => void (await client.query(sql)),
        record: async (m) =>
          void (await client.query(
            `INSERT INTO ${table} ("version", "description", "applied_at") VALUES ($1, $2, now()) ON CONFLICT DO NOTHING`,
            [m.version, m.description],
          )),
      },
      ownMigrations(this.schema),
      this.description,
    );
  }

  protected async stateRow(client: pg.Client, object: string): Promise<StoredState | undefined> {
    const { rows } = await client.query<StoredState>(
      `SELECT "cursor", "pass", "last_full_pass_at" FROM ${this.qualified(STATE_TABLE)} WHERE "object" = $1`,
      [object],
    );
    return rows[0];
  }

  /**
   * One transaction per batch, in as few round trips as the work allows: BEGIN travels with the
   * first statement, the state row and COMMIT with the last (for a batch of new ids only: BEGIN and
   * the lookup of its ids, then COPY, state and COMMIT; two round trips where a bare COPY takes one,
   * against five before).
   */
  writeBatch(batch: Batch): Promise<BatchResult> {
    return this.exclusive(() =>
      this.transaction(
        `cannot write ${batch.table} to ${this.description}`,
        async (client) => {
          const counts = new BatchCounter();
          const finish = `${this.stateSql(client, batch.state)}; COMMIT`;
          const direct = batch.children.length === 0 && !batch.sweep;
          const table = this.prepared(batch.table);
          const main = await this.writeMain(client, table, batch, direct ? finish : null);
          counts.add(batch.table, main);
          for (const child of batch.children) {
            const table = this.prepared(child.table);
            counts.add(child.table, await this.merge(client, table, child.rows));
            counts.add(child.table, { deleted: await this.markOrphans(client, table, child) });
          }
          if (batch.sweep) {
            for (const table of batch.sweep.tables) {
              const result = await client.query(sweepSql(this.qualified(table)), [batch.sweep.since]);
              counts.add(table, { deleted: result.rowCount ?? 0 });
            }
          }
          if (!main.committed) await client.query(finish);
          const result = counts.result();
          if (batch.freshSince === undefined) return result;
          const tables = {
            ...result.tables,
            [batch.table]: { ...result.tables[batch.table], fresh: main.fresh },
          };
          return { tables };
        },
        { opensItself: true },
      ),
    );
  }

  /** The state row's upsert, its values as literals (see writeStateSql). */
  private stateSql(client: pg.Client, state: ObjectState): string {
    const literal = (value: string | null): string => (value === null ? 'NULL' : client.escapeLiteral(value));
    const [object, cursor, pass, lastFullPassAt] = stateRowValues(state).map(literal);
    return writeStateSql(this.schema, [object, cursor, pass, lastFullPassAt]);
  }

  now(): Promise<string> {
    return this.call(`cannot read the clock of ${this.description}`, async (client) => {
      const { rows } = await client.query<{ now: string }>(
        `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`,
      );
      return rows[0].now;
    });
  }

  unwrittenIds(table: string, since: string, limit: number): Promise<number[]> {
    return this.call(`cannot read the rows of "${table}" in ${this.description}`, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `SELECT "id" FROM ${this.qualified(table)} WHERE ${quoteIdent(syncedAt)} < $1::timestamptz AND ${quoteIdent(deletedAt)} IS NULL ORDER BY "id" LIMIT $2`,
        [since, limit],
      );
      return rows.map((row) => Number(row.id));
    });
  }

  countWritten(table: string, query: WrittenQuery): Promise<number> {
    return this.call(`cannot count the rows of "${table}" in ${this.description}`, async (client) => {
      const where = [`${quoteIdent(syncedAt)} >= $1::timestamptz`];
      const params: SqlValue[] = [query.since];
      const { range } = query;
      if (range?.from !== undefined) {
        params.push(range.from);
        where.push(`${quoteIdent(range.column)} >= $${params.length}::date`);
      }
      if (range?.to !== undefined) {
        params.push(range.to);
        where.push(`${quoteIdent(range.column)} <= $${params.length}::date`);
      }
      if (query.exceptIds && query.exceptIds.length > 0) {
        params.push(`{${query.exceptIds.join(',')}}`);
        where.push(`NOT ("id" = ANY($${params.length}::bigint[]))`);
      }
      if (query.ids) {
        params.push(`{${query.ids.join(',')}}`);
        where.push(`"id" = ANY($${params.length}::bigint[])`);
      }
      const { rows } = await client.query<{ count: string }>(
        `SELECT count(*) AS count FROM ${this.qualified(table)} WHERE ${where.join(' AND ')}`,
        params,
      );
      return Number(rows[0].count);
    });
  }

  tableInfo(table: string): Promise<TableInfo | null> {
    return this.call(`cannot describe table "${table}" in ${this.description}`, async (client) => {
      const columns = [...(await this.physicalColumns(client, table)).keys()];
      if (columns.length === 0) return null;
      const { rows } = await client.query<{ count: string }>(
        `SELECT count(*) AS count FROM ${this.qualified(table)}`,
      );
      return { columns, rowCount: Number(rows[0].count) };
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      const client = this.connection;
      this.connection = null;
      this.tables.clear();
      this.allNew.clear();
      if (!client) return;
      try {
        // Ending the session would free the lock as well; unlocking first frees it even if the
        // server is slow to notice the closed socket.
        if (!this.lost) await client.query(UNLOCK_SQL, [this.schema]);
      } catch {
        // The session is going away either way, and the lock with it.
      } finally {
        await client.end().catch(() => undefined);
        this.lost = null;
      }
    });
  }

  /**
   * Opens the batch's transaction and writes its own table. One index lookup per id, sent with the
   * BEGIN, tells whether the table holds any of them yet (and, for `freshSince`, how many were
   * stamped since): a batch of new ids only is COPYed straight into the table, stamped with the
   * transaction's now(), as a bare loader would, with `finish` (the state row and COMMIT; null: more
   * follows) in the same message. Any other batch goes through the staging table and the merge.
   */
  private async writeMain(
    client: pg.Client,
    table: PreparedTable,
    batch: Batch,
    finish: string | null,
  ): Promise<Partial<TableCounts> & { fresh: number; committed: boolean }> {
    const { rows } = batch;
    if (rows.length === 0)
      return { ...(await this.merge(client, table, rows, true)), fresh: 0, committed: false };
    const shape = { name: table.name, width: table.columns.length, idIndex: table.idIndex };
    const unique = lastCopyPerId(shape, rows);
    const inserted = { inserted: unique.length, unchanged: rows.length - unique.length };
    if (finish !== null && this.allNew.has(table.name)) {
      if (await this.copyNew(client, table, unique, finish))
        return { ...inserted, fresh: unique.length, committed: true };
    }
    // quoted as a whole: whatever an id holds, the server reads it as bigint[] text, as a parameter
    const ids = client.escapeLiteral(`{${unique.map((row) => row[table.idIndex]).join(',')}}`);
    const since = batch.freshSince === undefined ? 'NULL' : client.escapeLiteral(batch.freshSince);
    const results = (await client.query(`BEGIN; ${probeSql(table.target, ids, since)}`)) as unknown as [
      pg.QueryResult,
      pg.QueryResult<{ existing: number; again: number; now: string }>,
    ];
    const { existing, again, now } = results[1].rows[0];
    const fresh = unique.length - again;
    if (existing > 0) {
      this.allNew.delete(table.name);
      return { ...(await this.merge(client, table, rows)), fresh, committed: false };
    }
    this.allNew.add(table.name);
    const copy = finish === null ? table.copyDirectSql : `${table.copyDirectSql}; ${finish}`;
    await pipeline(Readable.from(copyChunks(unique, copyField(now))), client.query(this.copyFrom(copy)));
    return { ...inserted, fresh, committed: finish !== null };
  }

  /**
   * The optimistic write of a first load, whose pages are new ids one after another: BEGIN, the COPY
   * straight into the table, the state and COMMIT in one round trip, without the lookup first. An id
   * the table holds after all fails the COPY (its primary key): the transaction is rolled back and
   * false returned, for the batch to be written the careful way.
   */
  private async copyNew(
    client: pg.Client,
    table: PreparedTable,
    rows: readonly Row[],
    finish: string,
  ): Promise<boolean> {
    try {
      const copy = `BEGIN; ${table.copyNewSql}; ${finish}`;
      await pipeline(Readable.from(copyChunks(rows)), client.query(this.copyFrom(copy)));
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
      await client.query('ROLLBACK');
      this.allNew.delete(table.name);
      return false;
    }
  }

  /**
   * COPYs rows into the table's staging table, then merges them into the table; `begin`: the
   * batch's transaction starts here.
   */
  private async merge(
    client: pg.Client,
    table: PreparedTable,
    rows: readonly Row[],
    begin = false,
  ): Promise<Partial<TableCounts>> {
    // Emptied before use, not after: the orphan marking that follows reads what this batch staged,
    // even when that is nothing.
    await client.query(`${begin ? 'BEGIN; ' : ''}TRUNCATE ${table.stage}`);
    if (rows.length === 0) return {};
    const shape = { name: table.name, width: table.columns.length, idIndex: table.idIndex };
    const unique = lastCopyPerId(shape, rows);
    await pipeline(Readable.from(copyChunks(unique)), client.query(this.copyFrom(table.copySql)));
    const { rows: merged } = await client.query<{ inserted: number; written: number }>(table.merge);
    const { inserted, written } = merged[0];
    if (written < unique.length) await client.query(table.touch);
    return {
      inserted,
      updated: written - inserted,
      // rows the merge skipped, and copies of a record repeated in the batch before its last one
      unchanged: rows.length - written,
    };
  }

  private async markOrphans(client: pg.Client, table: PreparedTable, child: ChildRows): Promise<number> {
    if (child.parentIds.length === 0) return 0;
    if (!table.markOrphans) throw new DestinationError(`table "${child.table}" has no parent key`);
    const result = await client.query({ ...table.markOrphans, values: [child.parentIds] });
    return result.rowCount ?? 0;
  }

  /** Compiles a table's SQL and (re)builds its staging table for the given columns. */
  private async prepare(
    client: pg.Client,
    name: string,
    parentKey: string | undefined,
    columns: readonly Column[],
  ): Promise<void> {
    const idIndex = columns.findIndex((c) => c.name === 'id');
    if (idIndex < 0) throw new DestinationError(`table "${name}" has no "id" column`);
    const existing = this.tables.get(name);
    // Statement names are never reused with other text: pg refuses that within a session.
    const n = ++this.generation;
    const stage = existing?.stage ?? `pg_temp.${quoteIdent(`_hs_stage_${this.tables.size + 1}`)}`;
    const target = this.qualified(name);
    const names = columns.map((c) => quoteIdent(c.name)).join(', ');
    // CREATE … AS … WITH NO DATA copies the target's actual column types, without its constraints.
    await client.query(`DROP TABLE IF EXISTS ${stage}`);
    await client.query(
      `CREATE TEMP TABLE ${stage.slice('pg_temp.'.length)} AS SELECT ${names} FROM ${target} WITH NO DATA`,
    );
    this.tables.set(name, {
      name,
      parentKey,
      columns: [...columns],
      idIndex,
      target,
      stage,
      copySql: `COPY ${stage} (${names}) FROM STDIN`,
      copyDirectSql: `COPY ${target} (${names}, ${quoteIdent(syncedAt)}) FROM STDIN`,
      copyNewSql: `COPY ${target} (${names}) FROM STDIN`,
      merge: { name: `hs_merge_${n}`, text: mergeSql(target, stage, columns) },
      touch: touchSql(target, stage),
      markOrphans: parentKey
        ? { name: `hs_orphans_${n}`, text: markOrphansSql(target, stage, parentKey) }
        : undefined,
    });
  }

  /**
   * Gives the stamp column of a table made by an earlier release its default, the transaction's
   * now(), once: the optimistic COPY leaves the stamp to it.
   */
  private async stampByDefault(client: pg.Client, table: string, target: string): Promise<void> {
    const { rows } = await client.query<{ ready: boolean }>(
      `SELECT coalesce(pg_get_expr(d.adbin, d.adrelid) = 'now()', false) AS ready
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3`,
      [this.schema, table, syncedAt],
    );
    if (rows[0]?.ready !== true) {
      await client.query(`ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(syncedAt)} SET DEFAULT now()`);
    }
  }

  private async addPhysicalColumn(client: pg.Client, target: string, column: Column): Promise<void> {
    await client.query(
      `ALTER TABLE ${target} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${POSTGRES_TYPES[column.type]}`,
    );
  }

  /** The table's columns in their physical order, with their types; empty when the table does not exist. */
  private async physicalColumns(client: pg.Client, table: string): Promise<Map<string, string>> {
    const { rows } = await client.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
      [this.schema, table],
    );
    return new Map(rows.map((r) => [r.name, r.type]));
  }

  private async checkPrimaryKey(client: pg.Client, table: string): Promise<void> {
    const { rows } = await client.query<{ key: string[] }>(
      `SELECT array(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = k) AS key
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary`,
      [this.schema, table],
    );
    const key = rows[0]?.key;
    if (!key || key.length !== 1 || key[0] !== 'id') {
      throw new DestinationError(`table "${table}" exists but "id" is not its primary key`);
    }
  }

  /** Columns earlier runs added for undeclared fields, oldest first. */
  private async recordedColumns(client: pg.Client, table: string): Promise<Column[]> {
    const { rows } = await client.query<{ column: string; path: string; type: string }>(
      `SELECT "column", "path", "type" FROM ${this.qualified(COLUMNS_TABLE)} WHERE "table" = $1 ORDER BY "seq"`,
      [table],
    );
    return rows.map((r) => {
      const type = COLUMN_TYPES.find((t) => t === r.type);
      let path: unknown;
      try {
        path = JSON.parse(r.path);
      } catch {
        path = null;
      }
      if (!type || !Array.isArray(path) || !path.every((p) => typeof p === 'string')) {
        throw new DestinationError(
          `column "${r.column}" of "${table}" has a corrupt entry in ${COLUMNS_TABLE}`,
        );
      }
      return { name: r.column, type, path };
    });
  }

  private copyFrom(sql: string): ReturnType<PgDriver['copyFrom']> {
    if (!this.driver) throw new DestinationError(`${this.description} is not open`);
    return this.driver.copyFrom(sql);
  }

  private qualified(table: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(table)}`;
  }
}
