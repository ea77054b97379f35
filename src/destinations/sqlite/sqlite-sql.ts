import { META_COLUMNS } from '../../catalog/types.js';
import type { Column, ColumnType } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';
import { comparedColumns } from '../batch.js';
import { OWN_SCHEMA_TABLE, OWN_STEPS } from '../own-schema.js';
import type { OwnMigration } from '../own-schema.js';

/**
 * SQLite storage classes per logical type. Decimals are NUMERIC and bound as JS numbers: SQLite keeps
 * them as INTEGER when whole and REAL (IEEE double) otherwise, so 0.1 reads back as 0.1, 19.99 as
 * 19.99 and 100 as 100 — the same double Harvest's JSON gave us, no more and no less exact.
 */
export const SQLITE_TYPES: { readonly [T in ColumnType]: string } = {
  bigint: 'INTEGER',
  integer: 'INTEGER',
  decimal: 'NUMERIC',
  boolean: 'INTEGER', // 0/1
  date: 'TEXT',
  timestamp: 'TEXT',
  time: 'TEXT',
  text: 'TEXT',
  json: 'TEXT', // JSON text; query it with json_extract/json_each
};

export const STATE_TABLE = '_harvest_sync_state';
export const COLUMNS_TABLE = '_harvest_sync_columns';

/**
 * Quotes an identifier. Names come from the catalog but also from fields Harvest starts sending,
 * so they are data: doubling quotes makes any name a single identifier. NUL cannot be quoted (SQLite
 * ends the statement text there), so it is refused.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new DestinationError(`invalid SQL identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

const { syncedAt, deletedAt } = META_COLUMNS;

export function columnDefinition(column: Column): string {
  const primaryKey = column.name === 'id' ? ' PRIMARY KEY' : '';
  return `${quoteIdent(column.name)} ${SQLITE_TYPES[column.type]}${primaryKey}`;
}

export function createTableSql(table: string, columns: readonly Column[]): string {
  const defs = columns.map(columnDefinition);
  defs.push(`${quoteIdent(syncedAt)} TEXT NOT NULL`, `${quoteIdent(deletedAt)} TEXT`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${defs.join(', ')})`;
}

export function parentIndexSql(table: string, parentKey: string): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_${parentKey}_idx`)} ON ${quoteIdent(table)} (${quoteIdent(parentKey)})`;
}

const CREATE_STATE_TABLES = [
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(STATE_TABLE)} (
    "object" TEXT PRIMARY KEY,
    "cursor" TEXT,
    "pass" TEXT,
    "last_full_pass_at" TEXT,
    "updated_at" TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(COLUMNS_TABLE)} (
    "table" TEXT NOT NULL,
    "column" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "added_at" TEXT NOT NULL,
    PRIMARY KEY ("table", "column")
  )`,
];

/**
 * The function the upsert calls for each row that existed (see upsertSql), with whether it differs
 * and whether it was already stamped since the batch's `freshSince`; registered on every
 * connection by the destination. It returns NULL, the row's new `_deleted_at`.
 */
export const EXISTED_FUNCTION = 'harvest_sync_existed';

/**
 * The upsert of one table's rows: every listed column is overwritten, the row is stamped and
 * undeleted. Columns not listed (added by a user) keep their values and are not compared.
 * Parameters: the row's values, its stamp, then `freshSince` (NULL when not asked).
 *
 * For a row that existed, setting `_deleted_at` to NULL goes through EXISTED_FUNCTION with whether
 * it differs (a listed column that `IS NOT` its new value, NULLs and types included, or a deletion
 * mark) and whether its stored stamp is at or after `freshSince`: the destination counts rows that
 * existed, updated and stamped again without a lookup of its own. One write per row, as without
 * counting, and nothing extra for a row inserted.
 */
export function upsertSql(table: string, columns: readonly Column[]): string {
  const target = quoteIdent(table);
  const names = [...columns.map((c) => quoteIdent(c.name)), quoteIdent(syncedAt), quoteIdent(deletedAt)];
  const placeholders = [...columns.map(() => '?'), '?', 'NULL'];
  const differs = comparedColumns(columns).map(
    (c) => `${target}.${quoteIdent(c.name)} IS NOT excluded.${quoteIdent(c.name)}`,
  );
  differs.push(`${target}.${quoteIdent(deletedAt)} IS NOT NULL`);
  const updates = names
    .filter((name) => name !== '"id"' && name !== quoteIdent(deletedAt))
    .map((name) => `${name} = excluded.${name}`);
  const again = `${target}.${quoteIdent(syncedAt)} >= ?`;
  updates.push(`${quoteIdent(deletedAt)} = ${EXISTED_FUNCTION}(${differs.join(' OR ')}, ${again})`);
  return (
    `INSERT INTO ${target} (${names.join(', ')}) VALUES (${placeholders.join(', ')}) ` +
    `ON CONFLICT ("id") DO UPDATE SET ${updates.join(', ')}`
  );
}

/** The numbered steps of the destination's own tables (see own-schema.ts), in SQLite's dialect. */
export const OWN_MIGRATIONS: readonly OwnMigration[] = [
  { version: 1, description: OWN_STEPS[1], sql: CREATE_STATE_TABLES },
];

export const OWN_SCHEMA_SQL = `CREATE TABLE IF NOT EXISTS ${quoteIdent(OWN_SCHEMA_TABLE)} (
  "version" INTEGER PRIMARY KEY,
  "description" TEXT NOT NULL,
  "applied_at" TEXT NOT NULL
)`;
