import { META_COLUMNS } from '../../catalog/types.js';
import { OWN_SCHEMA_TABLE, OWN_STEPS } from '../own-schema.js';
import type { OwnMigration } from '../own-schema.js';
import type { Column, ColumnType } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';

/** Text: every Unicode character (emoji too), compared byte for byte like SQLite's and PostgreSQL's text. */
const TEXT = 'LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin';

/**
 * MySQL/MariaDB types per logical type.
 * - Integers are BIGINT as well as ids: Harvest documents neither range (ids pass 2^31).
 * - DECIMAL(40,20): exact, where DOUBLE would not be. Values arrive as JSON numbers (doubles) and are
 *   written as the shortest decimal text that reads back as the same double, so 20 places hold every
 *   such value from 0.0001 up at its full 17 significant digits (one second in hours,
 *   0.0002777777777777778, included) and any shorter value down to 1e-20; 20 integer digits hold any
 *   amount. PostgreSQL's numeric stores the same decimal; MySQL shows trailing zeros.
 * - DATETIME(6), always UTC (the session's time_zone is +00:00): unlike TIMESTAMP it is not shifted by
 *   a session's zone and goes past 2038; microseconds for `_synced_at`, which the sweep compares.
 * - JSON: MySQL's JSON type; MariaDB's alias of LONGTEXT checked with JSON_VALID.
 * - Text is LONGTEXT: Harvest sets no length, and TEXT stops at 64 KiB.
 */
export const MYSQL_TYPES: { readonly [T in ColumnType]: string } = {
  bigint: 'BIGINT',
  integer: 'BIGINT',
  decimal: 'DECIMAL(40,20)',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'DATETIME(6)',
  time: TEXT, // "14:59" or "2:59pm", as the account shows it
  text: TEXT,
  json: 'JSON',
};

/** Same names as the other destinations', so tools can read any of them. */
export const STATE_TABLE = '_harvest_sync_state';
export const COLUMNS_TABLE = '_harvest_sync_columns';
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/** MySQL's limit on table, column and index names, in characters. */
const MAX_IDENTIFIER = 64;
const OUTSIDE_BMP = /[\uD800-\uDFFF]/;

/**
 * Quotes an identifier. Column names come from fields Harvest sends, so they are data: doubling
 * backticks makes any name one identifier. Names MySQL cannot hold as given (empty, NUL, characters
 * beyond the Basic Multilingual Plane such as emoji, a trailing space, more than 64 characters) are
 * refused rather than silently changed.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0') || OUTSIDE_BMP.test(name) || name.endsWith(' ')) {
    throw new DestinationError(`invalid MySQL identifier ${JSON.stringify(name)}`);
  }
  if (name.length > MAX_IDENTIFIER) {
    throw new DestinationError(
      `identifier ${JSON.stringify(name)} is longer than MySQL's ${MAX_IDENTIFIER}-character limit`,
    );
  }
  return `\`${name.replaceAll('`', '``')}\``;
}

const { syncedAt, deletedAt } = META_COLUMNS;
const SYNCED_AT = quoteIdent(syncedAt);
const DELETED_AT = quoteIdent(deletedAt);
export const STAMP_TYPE = 'DATETIME(6)';

export function databaseSql(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`;
}

export const STATE_TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(STATE_TABLE)} (
    \`object\` VARCHAR(255) NOT NULL PRIMARY KEY,
    \`cursor\` ${TEXT},
    \`pass\` ${TEXT},
    \`last_full_pass_at\` ${TEXT},
    \`updated_at\` ${STAMP_TYPE} NOT NULL
  ) ${TABLE_OPTIONS}`,
  // "seq" keeps the order columns were added in (SQLite has its rowid for that).
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(COLUMNS_TABLE)} (
    \`table\` VARCHAR(64) NOT NULL,
    \`column\` VARCHAR(64) NOT NULL,
    \`path\` ${TEXT} NOT NULL,
    \`type\` VARCHAR(16) NOT NULL,
    \`added_at\` ${STAMP_TYPE} NOT NULL,
    \`seq\` BIGINT NOT NULL AUTO_INCREMENT,
    PRIMARY KEY (\`table\`, \`column\`),
    UNIQUE KEY \`seq\` (\`seq\`)
  ) ${TABLE_OPTIONS}`,
];

export function columnDefinition(column: Column): string {
  const notNull = column.name === 'id' ? ' NOT NULL' : ' NULL';
  return `${quoteIdent(column.name)} ${MYSQL_TYPES[column.type]}${notNull}`;
}

export function parentIndexName(table: string, parentKey: string): string {
  return quoteIdent(`${table}_${parentKey}_idx`.slice(0, MAX_IDENTIFIER).trimEnd());
}

export function createTableSql(table: string, columns: readonly Column[], parentKey?: string): string {
  const defs = columns.map(columnDefinition);
  defs.push(`${SYNCED_AT} ${STAMP_TYPE} NOT NULL`, `${DELETED_AT} ${STAMP_TYPE} NULL`, 'PRIMARY KEY (`id`)');
  if (parentKey) defs.push(`KEY ${parentIndexName(table, parentKey)} (${quoteIdent(parentKey)})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${defs.join(', ')}) ${TABLE_OPTIONS}`;
}

/**
 * The head and tail of a multi-row upsert: `head` + `(…), (…)` + `tail`. Every listed column is
 * overwritten and the row undeleted; columns not listed (added by a user) keep their values. A new
 * row is stamped with the statement's clock; a row that existed was stamped just before by
 * stampSql, and is left out of `_synced_at` here so that the server can tell whether the batch
 * changed it. VALUES() is what both MySQL and MariaDB accept here.
 */
export function upsertSql(table: string, columns: readonly Column[]): { head: string; tail: string } {
  const names = columns.map((c) => quoteIdent(c.name));
  const updates = names.filter((name) => name !== '`id`').map((name) => `${name} = VALUES(${name})`);
  updates.push(`${DELETED_AT} = NULL`);
  return {
    head: `INSERT INTO ${quoteIdent(table)} (${names.join(', ')}, ${SYNCED_AT}, ${DELETED_AT}) VALUES `,
    tail: ` ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
  };
}

/** Stamps the rows of a batch that already exist: every row a batch carries is written, changed or not. */
export function stampSql(table: string, idList: string): string {
  return `UPDATE ${quoteIdent(table)} SET ${SYNCED_AT} = NOW(6) WHERE \`id\` IN ${idList}`;
}

/** The row tail every upserted row ends with: the statement's clock, not deleted. */
export const ROW_STAMP = ', NOW(6), NULL)';

/** Children of the batch's parents that the batch no longer carries are marked deleted. */
export function markOrphansSql(
  table: string,
  parentKey: string,
  parentList: string,
  idList?: string,
): string {
  const keep = idList ? ` AND \`id\` NOT IN ${idList}` : '';
  return (
    `UPDATE ${quoteIdent(table)} SET ${DELETED_AT} = NOW(6) ` +
    `WHERE ${DELETED_AT} IS NULL AND ${quoteIdent(parentKey)} IN ${parentList}${keep}`
  );
}

export function sweepSql(table: string): string {
  return `UPDATE ${quoteIdent(table)} SET ${DELETED_AT} = NOW(6) WHERE ${SYNCED_AT} < ? AND ${DELETED_AT} IS NULL`;
}

export const WRITE_STATE_SQL =
  `INSERT INTO ${quoteIdent(STATE_TABLE)} (\`object\`, \`cursor\`, \`pass\`, \`last_full_pass_at\`, \`updated_at\`) ` +
  'VALUES (?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE `cursor` = VALUES(`cursor`), `pass` = VALUES(`pass`), ' +
  '`last_full_pass_at` = VALUES(`last_full_pass_at`), `updated_at` = VALUES(`updated_at`)';

export const RECORD_COLUMN_SQL =
  `INSERT INTO ${quoteIdent(COLUMNS_TABLE)} (\`table\`, \`column\`, \`path\`, \`type\`, \`added_at\`) ` +
  'VALUES (?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE `path` = VALUES(`path`), `type` = VALUES(`type`)';

/** The numbered steps of the destination's own tables (see own-schema.ts), in MySQL's dialect. */
export const OWN_MIGRATIONS: readonly OwnMigration[] = [
  { version: 1, description: OWN_STEPS[1], sql: STATE_TABLES_SQL },
];

export const OWN_SCHEMA_SQL = `CREATE TABLE IF NOT EXISTS ${quoteIdent(OWN_SCHEMA_TABLE)} (
  \`version\` INT NOT NULL PRIMARY KEY,
  \`description\` ${TEXT} NOT NULL,
  \`applied_at\` ${STAMP_TYPE} NOT NULL
) ${TABLE_OPTIONS}`;
