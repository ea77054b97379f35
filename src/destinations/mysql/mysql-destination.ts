import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { META_COLUMNS } from '../../catalog/types.js';
import type { Column, Row, SqlValue, TableSchema } from '../../catalog/types.js';
import { DestinationBusyError, DestinationError } from '../../errors.js';
import { BatchCounter, lastCopyPerId, rangeConditions } from '../batch.js';
import type { Batch, BatchResult, ChildRows, Destination, TableCounts } from '../destination.js';
import type { TableInfo, WrittenQuery } from '../destination.js';
import { OWN_SCHEMA_TABLE, migrateOwnTables } from '../own-schema.js';
import { stateRowValues } from '../pass-state.js';
import type { StoredState } from '../pass-state.js';
import { ServerDestination } from '../server-destination.js';
import { caseInsensitiveColumn } from '../session.js';
import { connectCreating, connectMysql } from './mysql-connection.js';
import type { MysqlConnection } from './mysql-connection.js';
import { isConnectionLost, toDestinationError } from './mysql-errors.js';
import {
  hasIndexOn,
  physicalColumns,
  primaryKey,
  recordedColumns,
  rowCount,
  stateRows,
} from './mysql-introspect.js';
import type { PhysicalColumn } from './mysql-introspect.js';
import { getLock, lockName, releaseLock } from './mysql-lock.js';
import { upsertStatements } from './mysql-rows.js';
import {
  MYSQL_TYPES,
  RECORD_COLUMN_SQL,
  STAMP_TYPE,
  OWN_MIGRATIONS,
  OWN_SCHEMA_SQL,
  WRITE_STATE_SQL,
  createTableSql,
  markOrphansSql,
  parentIndexName,
  quoteIdent,
  stampSql,
  sweepSql,
  upsertSql,
} from './mysql-sql.js';
import { parseMysqlUrl } from './mysql-url.js';
import type { MysqlTarget } from './mysql-url.js';
import { boundDatetime, mysqlEncoders, sqlList } from './mysql-values.js';

export interface MysqlDestinationOptions {
  /** How long open() waits for the server to answer. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long open() waits for a run lock held by another session before reporting it busy. Default 2 s. */
  readonly lockWaitMs?: number;
  /**
   * How long open() waits for the writing session of a run that died to be gone (the server ends it
   * once it notices, rolling its transaction back). Default 30 s.
   */
  readonly writerWaitMs?: number;
  /** Longest statement sent; the server's max_allowed_packet caps it. Default 8 MiB. */
  readonly maxStatementBytes?: number;
}

/** A table prepared by ensureTable: the columns rows carry, and its upsert compiled for them. */
interface PreparedTable {
  readonly name: string;
  readonly parentKey?: string;
  readonly columns: readonly Column[];
  readonly idIndex: number;
  readonly upsert: { readonly head: string; readonly tail: string };
}

type Rows<T> = Array<T & RowDataPacket>;

const { syncedAt, deletedAt } = META_COLUMNS;
const lower = (name: string): string => name.toLowerCase();
/** Largest statement sent even when the server would take more: bigger ones gain nothing measurable. */
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;

const MYSQL_DIALECT = {
  name: 'MySQL',
  begin: 'START TRANSACTION',
  quoteIdent,
  isConnectionLost,
  toDestinationError,
};

/**
 * A MySQL or MariaDB database as a destination (InnoDB tables), written through one connection.
 *
 * Locking: the run lock is a named lock (GET_LOCK) held by a second, dedicated session that does
 * nothing else, so no statement of the run can delay or lose it. The writing session holds a lock
 * of its own as well: a run opening after one killed with -9 waits for that lock, that is until the
 * server has ended the dead run's writing session and rolled back its open transaction — the run
 * lock alone, freed as soon as the idle lock session's socket closes, would not say so. If either
 * session drops, every later call fails: a run must not write without its lock.
 *
 * Calls are queued and run one at a time: the engine writes several objects concurrently, and
 * their transactions must not interleave on the one connection.
 *
 * Time: `_synced_at` and `_deleted_at` are the writing statement's NOW(6) (UTC, microseconds), and
 * `now()` below is NOW(6) of a statement of its own. A statement that starts after `now()` answered
 * stamps a time at or after it, so a sweep with `_synced_at < since` never catches a row the pass
 * wrote.
 *
 * Table changes (CREATE, ALTER) commit on their own in MySQL: each is idempotent, and a column is
 * added before it is recorded, so a run killed between the two finds the column and adopts it.
 */
export class MysqlDestination
  extends ServerDestination<MysqlConnection, PreparedTable, MysqlTarget>
  implements Destination
{
  readonly kind = 'mysql' as const;
  readonly encoders = mysqlEncoders;
  readonly database: string;

  private lockConnection: MysqlConnection | null = null;
  private maxStatementBytes = MAX_STATEMENT_BYTES;

  constructor(
    url: string,
    private readonly options: MysqlDestinationOptions = {},
  ) {
    super(parseMysqlUrl(url), MYSQL_DIALECT);
    this.database = this.target.database;
  }

  /** The lock session first (creating the database if need be), then the writing one. */
  protected async connect(): Promise<MysqlConnection> {
    const connect = { connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000 };
    let lockConnection: MysqlConnection;
    try {
      lockConnection = await connectCreating(this.target, connect);
    } catch (error) {
      throw this.wrap(this.connectContext(), error);
    }
    let connection: MysqlConnection | null = null;
    try {
      lockConnection.on('error', (error: unknown) => this.markLost(error));
      await this.takeLock(lockConnection, 'run', this.options.lockWaitMs ?? 2000);
      connection = await connectMysql(this.target, connect);
      connection.on('error', (error: unknown) => this.markLost(error));
      await this.takeLock(connection, 'writer', this.options.writerWaitMs ?? 30_000);
      await this.migrate(connection);
      this.maxStatementBytes = await this.statementLimit(connection);
    } catch (error) {
      connection?.destroy();
      lockConnection.destroy();
      throw this.wrap(`cannot open ${this.description}`, error);
    }
    this.lockConnection = lockConnection;
    return connection;
  }

  private async takeLock(connection: MysqlConnection, role: 'run' | 'writer', waitMs: number): Promise<void> {
    if (await getLock(connection, lockName(this.database, role), waitMs)) return;
    throw new DestinationBusyError(
      role === 'run'
        ? `another run is writing to ${this.description}; wait for it to finish or stop it`
        : `the session of an earlier run is still writing to ${this.description}; try again in a minute`,
    );
  }

  /** The longest statement to send: the server's max_allowed_packet, less room for the protocol. */
  private async statementLimit(connection: MysqlConnection): Promise<number> {
    const [rows] = await connection.query<Rows<{ packet: string | number }>>(
      'SELECT @@max_allowed_packet AS packet',
    );
    return Math.min(this.options.maxStatementBytes ?? MAX_STATEMENT_BYTES, Number(rows[0].packet) - 1024);
  }

  ensureTable(table: TableSchema): Promise<Column[]> {
    return this.call(`cannot create table "${table.name}" in ${this.description}`, async (connection) => {
      for (const column of table.columns) this.checkColumn(table.name, column);
      const catalogNames = new Set(table.columns.map((c) => lower(c.name)));
      let physical = await physicalColumns(connection, table.name);
      if (physical.size === 0) {
        await connection.query(createTableSql(table.name, table.columns, table.parentKey));
        physical = await physicalColumns(connection, table.name);
      } else {
        await this.upgradeTable(connection, table, physical);
      }
      const extras = (await recordedColumns(connection, table.name)).filter(
        (c) => !catalogNames.has(lower(c.name)),
      );
      await this.addPhysicalColumns(
        connection,
        table.name,
        extras.filter((c) => !physical.has(lower(c.name))),
      );
      const columns = [...table.columns, ...extras];
      this.prepare(table.name, table.parentKey, columns);
      return [...columns];
    });
  }

  /** Brings an existing table up to the catalog: its key checked, missing columns and index added. */
  private async upgradeTable(
    connection: MysqlConnection,
    table: TableSchema,
    physical: ReadonlyMap<string, PhysicalColumn>,
  ): Promise<void> {
    const key = await primaryKey(connection, table.name);
    if (key.length !== 1 || key[0] !== 'id') {
      throw new DestinationError(`table "${table.name}" exists but "id" is not its primary key`);
    }
    await this.addPhysicalColumns(
      connection,
      table.name,
      table.columns.filter((c) => !physical.has(lower(c.name))),
    );
    const stamps = [syncedAt, deletedAt].filter((name) => !physical.has(name));
    if (stamps.length > 0) {
      const adds = stamps.map((name) => `ADD COLUMN ${quoteIdent(name)} ${STAMP_TYPE} NULL`);
      await connection.query(`ALTER TABLE ${quoteIdent(table.name)} ${adds.join(', ')}`);
    }
    if (table.parentKey && !(await hasIndexOn(connection, table.name, table.parentKey))) {
      await connection.query(
        `ALTER TABLE ${quoteIdent(table.name)} ADD INDEX ${parentIndexName(table.name, table.parentKey)} (${quoteIdent(table.parentKey)})`,
      );
    }
  }

  addColumns(table: string, columns: readonly Column[]): Promise<Column[]> {
    return this.call(`cannot add columns to "${table}" in ${this.description}`, async (connection) => {
      const prepared = this.prepared(table);
      const physical = await physicalColumns(connection, table);
      const next = [...prepared.columns];
      const added: Column[] = [];
      for (const column of columns) {
        if (next.some((c) => c.name === column.name)) continue;
        this.checkNewColumn(table, column, next, physical);
        next.push(column);
        added.push(column);
      }
      // All checked before any is added, then one ALTER: it happens whole or not at all (a table
      // change cannot be rolled back in MySQL). A column of that name made by hand is adopted.
      await this.addPhysicalColumns(
        connection,
        table,
        added.filter((c) => !physical.has(lower(c.name))),
      );
      for (const column of added) {
        const values = [table, column.name, JSON.stringify(column.path), column.type];
        await connection.query(RECORD_COLUMN_SQL, values);
      }
      this.prepare(table, prepared.parentKey, next);
      return [...next];
    });
  }

  /** Refuses a new column MySQL cannot hold, or whose name differs from another's only by case. */
  private checkNewColumn(
    table: string,
    column: Column,
    columns: readonly Column[],
    physical: ReadonlyMap<string, PhysicalColumn>,
  ): void {
    this.checkColumn(table, column);
    caseInsensitiveColumn({ table, engine: 'MySQL' }, column, columns, physical);
  }

  protected async stateRow(connection: MysqlConnection, object: string): Promise<StoredState | undefined> {
    return (await stateRows(connection, object))[0];
  }

  writeBatch(batch: Batch): Promise<BatchResult> {
    return this.exclusive(() =>
      this.transaction(`cannot write ${batch.table} to ${this.description}`, async (connection) => {
        const tally = new BatchCounter();
        tally.add(batch.table, await this.upsert(connection, this.prepared(batch.table), batch.rows));
        for (const child of batch.children) {
          const table = this.prepared(child.table);
          tally.add(child.table, await this.upsert(connection, table, child.rows));
          tally.add(child.table, { deleted: await this.markOrphans(connection, table, child) });
        }
        await connection.query(WRITE_STATE_SQL, stateRowValues(batch.state));
        if (batch.sweep) {
          const since = boundDatetime(batch.sweep.since);
          for (const table of batch.sweep.tables) {
            const [result] = await connection.query<ResultSetHeader>(sweepSql(table), [since]);
            tally.add(table, { deleted: result.affectedRows });
          }
        }
        return tally.result();
      }),
    );
  }

  now(): Promise<string> {
    return this.call(`cannot read the clock of ${this.description}`, async (connection) => {
      const [rows] = await connection.query<Rows<{ now: string }>>(
        "SELECT DATE_FORMAT(NOW(6), '%Y-%m-%dT%H:%i:%s.%fZ') AS now",
      );
      return rows[0].now;
    });
  }

  /** Brings the destination's own tables to the last numbered step (see own-schema.ts). */
  private migrate(connection: MysqlConnection): Promise<void> {
    const table = quoteIdent(OWN_SCHEMA_TABLE);
    return migrateOwnTables(
      {
        createTable: async () => void (await connection.query(OWN_SCHEMA_SQL)),
        appliedVersion: async () => {
          const [rows] = await connection.query<Rows<{ v: number | null }>>(
            `SELECT MAX(\`version\`) AS v FROM ${table}`,
          );
          return rows[0].v === null ? null : Number(rows[0].v);
        },
        exec: async (sql) => void (await connection.query(sql)),
        record: async (m) =>
          void (await connection.query(
            `INSERT IGNORE INTO ${table} (\`version\`, \`description\`, \`applied_at\`) VALUES (?, ?, UTC_TIMESTAMP(6))`,
            [m.version, m.description],
          )),
      },
      OWN_MIGRATIONS,
      this.description,
    );
  }

  unwrittenIds(table: string, since: string, limit: number): Promise<number[]> {
    return this.call(`cannot read the rows of "${table}" in ${this.description}`, async (connection) => {
      const [rows] = await connection.query<Rows<{ id: string | number }>>(
        `SELECT \`id\` FROM ${quoteIdent(table)} WHERE ${quoteIdent(syncedAt)} < ? AND ${quoteIdent(deletedAt)} IS NULL ORDER BY \`id\` LIMIT ?`,
        [boundDatetime(since), limit],
      );
      return rows.map((row) => Number(row.id));
    });
  }

  countWritten(table: string, query: WrittenQuery): Promise<number> {
    return this.call(`cannot count the rows of "${table}" in ${this.description}`, async (connection) => {
      const where = [`${quoteIdent(syncedAt)} >= ?`];
      const params: SqlValue[] = [boundDatetime(query.since)];
      rangeConditions(query.range, quoteIdent, { where, params });
      if (query.exceptIds && query.exceptIds.length > 0)
        where.push(`\`id\` NOT IN ${sqlList(query.exceptIds)}`);
      if (query.ids) {
        if (query.ids.length === 0) return 0;
        where.push(`\`id\` IN ${sqlList(query.ids)}`);
      }
      const [rows] = await connection.query<Rows<{ n: string | number }>>(
        `SELECT COUNT(*) AS n FROM ${quoteIdent(table)} WHERE ${where.join(' AND ')}`,
        params,
      );
      return Number(rows[0].n);
    });
  }

  tableInfo(table: string): Promise<TableInfo | null> {
    return this.call(`cannot describe table "${table}" in ${this.description}`, async (connection) => {
      const columns = [...(await physicalColumns(connection, table)).values()].map((c) => c.name);
      if (columns.length === 0) return null;
      return { columns, rowCount: await rowCount(connection, table) };
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      const sessions: Array<[MysqlConnection | null, 'run' | 'writer']> = [
        [this.connection, 'writer'],
        [this.lockConnection, 'run'],
      ];
      this.connection = null;
      this.lockConnection = null;
      this.tables.clear();
      for (const [session, role] of sessions) {
        if (!session) continue;
        try {
          // Ending the session would free the lock as well; releasing it first frees it even if
          // the server is slow to notice the closed socket.
          if (!this.lost) await releaseLock(session, lockName(this.database, role));
          await session.end();
        } catch {
          session.destroy();
        }
      }
      this.lost = null;
    });
  }

  /**
   * Upserts rows with multi-row INSERT … ON DUPLICATE KEY UPDATE and tells new, changed and unchanged
   * rows apart from what the server reports (sessions have CLIENT_FOUND_ROWS): the stamp UPDATE
   * matches each row that exists; the upsert then counts 1 per new row, 2 per row it changed
   * (undeleting one is a change) and 1 per row it found as written already — compared by the server,
   * exactly (text byte for byte, decimals by value).
   */
  private async upsert(
    connection: MysqlConnection,
    table: PreparedTable,
    rows: readonly Row[],
  ): Promise<Partial<TableCounts>> {
    if (rows.length === 0) return {};
    const unique = lastCopyPerId(
      { name: table.name, width: table.columns.length, idIndex: table.idIndex },
      rows,
    );
    const ids = sqlList(unique.map((r) => r[table.idIndex]));
    const [stamped] = await connection.query<ResultSetHeader>(stampSql(table.name, ids));
    let affected = 0;
    for (const sql of upsertStatements(table.upsert, unique, this.maxStatementBytes, table.name)) {
      affected += (await connection.query<ResultSetHeader>(sql))[0].affectedRows;
    }
    const existing = stamped.affectedRows;
    const inserted = unique.length - existing;
    const updated = affected - inserted - existing;
    // The copies of a record repeated in a page before its last one count as unchanged.
    return { inserted, updated, unchanged: existing - updated + rows.length - unique.length };
  }

  private async markOrphans(
    connection: MysqlConnection,
    table: PreparedTable,
    child: ChildRows,
  ): Promise<number> {
    if (child.parentIds.length === 0) return 0;
    if (!table.parentKey) throw new DestinationError(`table "${child.table}" has no parent key`);
    const ids = child.rows.map((row) => row[table.idIndex]);
    const sql = markOrphansSql(
      child.table,
      table.parentKey,
      sqlList(child.parentIds),
      ids.length > 0 ? sqlList(ids) : undefined,
    );
    const [result] = await connection.query<ResultSetHeader>(sql);
    return result.affectedRows;
  }

  private prepare(name: string, parentKey: string | undefined, columns: readonly Column[]): void {
    const idIndex = columns.findIndex((c) => c.name === 'id');
    if (idIndex < 0) throw new DestinationError(`table "${name}" has no "id" column`);
    this.tables.set(name, {
      name,
      parentKey,
      columns: [...columns],
      idIndex,
      upsert: upsertSql(name, columns),
    });
  }

  private async addPhysicalColumns(
    connection: MysqlConnection,
    table: string,
    columns: readonly Column[],
  ): Promise<void> {
    if (columns.length === 0) return;
    const adds = columns.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${MYSQL_TYPES[c.type]} NULL`);
    await connection.query(`ALTER TABLE ${quoteIdent(table)} ${adds.join(', ')}`);
  }
}
