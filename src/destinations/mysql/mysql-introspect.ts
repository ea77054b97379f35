import type { RowDataPacket } from 'mysql2/promise';
import { COLUMN_TYPES } from '../../catalog/types.js';
import type { Column } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';
import type { MysqlConnection } from './mysql-connection.js';
import { COLUMNS_TABLE, STATE_TABLE, quoteIdent } from './mysql-sql.js';

/*
 * What a MySQL database holds, read from information_schema of the session's database. Names are
 * matched exactly here: information_schema compares them without regard to case.
 */

export interface PhysicalColumn {
  readonly name: string;
  readonly type: string;
}

type Rows<T> = Array<T & RowDataPacket>;

/** Tables of the database, sorted; the ones of harvest-sync itself (`_harvest_sync_*`) included. */
export async function listTables(connection: MysqlConnection): Promise<string[]> {
  const [rows] = await connection.query<Rows<{ name: string }>>(
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`,
  );
  return rows.map((r) => r.name).sort();
}

/**
 * A table's columns in their physical order, keyed by lower-case name (MySQL column names ignore
 * case); empty when the table does not exist.
 */
export async function physicalColumns(
  connection: MysqlConnection,
  table: string,
): Promise<Map<string, PhysicalColumn>> {
  const [rows] = await connection.query<Rows<{ tableName: string; name: string; type: string }>>(
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [table],
  );
  const columns = rows.filter((r) => r.tableName === table);
  return new Map(columns.map((r) => [r.name.toLowerCase(), { name: r.name, type: r.type }]));
}

/** The columns of a table's primary key, in key order. */
export async function primaryKey(connection: MysqlConnection, table: string): Promise<string[]> {
  const [rows] = await connection.query<Rows<{ tableName: string; name: string }>>(
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [table],
  );
  return rows.filter((r) => r.tableName === table).map((r) => r.name);
}

/** Whether some index of the table starts with this column. */
export async function hasIndexOn(
  connection: MysqlConnection,
  table: string,
  column: string,
): Promise<boolean> {
  const [rows] = await connection.query<Rows<{ tableName: string; name: string }>>(
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1`,
    [table],
  );
  return rows.some((r) => r.tableName === table && r.name.toLowerCase() === column.toLowerCase());
}

export async function rowCount(connection: MysqlConnection, table: string): Promise<number> {
  const [rows] = await connection.query<Rows<{ n: string | number }>>(
    `SELECT COUNT(*) AS n FROM ${quoteIdent(table)}`,
  );
  return Number(rows[0].n);
}

/** Rows of a table, and how many of them are marked deleted. */
export async function tableCounts(
  connection: MysqlConnection,
  table: string,
): Promise<{ rows: number; deleted: number }> {
  const [rows] = await connection.query<Rows<{ n: string | number; deleted: string | number }>>(
    `SELECT COUNT(*) AS n, COUNT(\`_deleted_at\`) AS deleted FROM ${quoteIdent(table)}`,
  );
  return { rows: Number(rows[0].n), deleted: Number(rows[0].deleted) };
}

/** A row of the state table as stored: `pass` is JSON text. */
export interface StateRow {
  readonly object: string;
  readonly cursor: string | null;
  readonly pass: string | null;
  readonly last_full_pass_at: string | null;
}

/** The stored state of every object, or of one. */
export async function stateRows(connection: MysqlConnection, object?: string): Promise<StateRow[]> {
  const [rows] = await connection.query<Rows<StateRow>>(
    `SELECT \`object\`, \`cursor\`, \`pass\`, \`last_full_pass_at\` FROM ${quoteIdent(STATE_TABLE)}` +
      (object === undefined ? ' ORDER BY `object`' : ' WHERE `object` = ?'),
    object === undefined ? [] : [object],
  );
  return rows;
}

/** Columns earlier runs added to a table for undeclared fields, oldest first. */
export async function recordedColumns(connection: MysqlConnection, table: string): Promise<Column[]> {
  const [rows] = await connection.query<Rows<{ column: string; path: string; type: string }>>(
    `SELECT \`column\`, \`path\`, \`type\` FROM ${quoteIdent(COLUMNS_TABLE)} WHERE \`table\` = ? ORDER BY \`seq\``,
    [table],
  );
  return rows.map((r) => {
    const type = COLUMN_TYPES.find((t) => t === r.type);
    const path = parseJson(r.path);
    if (!type || !isPath(path)) {
      throw new DestinationError(
        `column "${r.column}" of "${table}" has a corrupt entry in ${COLUMNS_TABLE}`,
      );
    }
    return { name: r.column, type, path };
  });
}

/** A column's path as stored: a JSON array of keys (checked by hand: zod would load with every run). */
const isPath = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((key) => typeof key === 'string');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
