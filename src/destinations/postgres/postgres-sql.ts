import { META_COLUMNS } from '../../catalog/types.js';
import { OWN_SCHEMA_TABLE, OWN_STEPS } from '../own-schema.js';
import type { OwnMigration } from '../own-schema.js';
import type { Column, ColumnType } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';
import { comparedColumns } from '../batch.js';

/**
 * PostgreSQL types per logical type. Integers are bigint as well as ids: Harvest documents neither
 * range, and a widened column costs 4 bytes where an overflow would stop every later run.
 *
 * What pg hands back when these are read (we never rely on it ourselves; tests compare `::text`):
 * bigint and numeric as strings (exact), boolean as boolean, timestamptz as a JS Date (millisecond
 * precision, microseconds lost), date as a JS Date at local midnight (surprising: cast to text),
 * jsonb parsed into JS values.
 */
export const POSTGRES_TYPES: { readonly [T in ColumnType]: string } = {
  bigint: 'bigint',
  integer: 'bigint',
  decimal: 'numeric', // exact: 0.1 stays 0.1, whatever the scale
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamptz',
  time: 'text', // "14:59" or "2:59pm", as the account shows it
  text: 'text',
  json: 'jsonb',
};

/** Same names as the SQLite destination's, so tools can read either. */
export const STATE_TABLE = '_harvest_sync_state';
export const COLUMNS_TABLE = '_harvest_sync_columns';

/** PostgreSQL truncates longer identifiers without error, which could merge two columns into one. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes an identifier. Column names come from fields Harvest sends, so they are data: doubling
 * quotes makes any name one identifier. Names PostgreSQL cannot hold as given (empty, NUL, longer
 * than 63 bytes) are refused rather than silently changed.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new DestinationError(`invalid SQL identifier ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new DestinationError(
      `identifier ${JSON.stringify(name)} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES}-byte limit`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

const { syncedAt, deletedAt } = META_COLUMNS;

export function stateTablesSql(schema: string): string[] {
  const s = quoteIdent(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.${quoteIdent(STATE_TABLE)} (
      "object" text PRIMARY KEY,
      "cursor" text,
      "pass" jsonb,
      "last_full_pass_at" text,
      "updated_at" timestamptz NOT NULL
    )`,
    // "seq" keeps the order columns were added in (SQLite has its rowid for that).
    `CREATE TABLE IF NOT EXISTS ${s}.${quoteIdent(COLUMNS_TABLE)} (
      "table" text NOT NULL,
      "column" text NOT NULL,
      "path" text NOT NULL,
      "type" text NOT NULL,
      "added_at" timestamptz NOT NULL,
      "seq" bigint GENERATED ALWAYS AS IDENTITY,
      PRIMARY KEY ("table", "column")
    )`,
  ];
}

export function columnDefinition(column: Column): string {
  const notNull = column.name === 'id' ? ' NOT NULL' : '';
  return `${quoteIdent(column.name)} ${POSTGRES_TYPES[column.type]}${notNull}`;
}

/**
 * The stamp column: its default is the writing transaction's now(), so a batch COPYed straight into
 * the table without it is stamped exactly as if it had been given (see writeMain's optimistic COPY).
 */
export const SYNCED_AT_DEFINITION = 'timestamptz NOT NULL DEFAULT now()';

export function createTableSql(target: string, columns: readonly Column[]): string {
  const defs = columns.map(columnDefinition);
  defs.push(`${quoteIdent(syncedAt)} ${SYNCED_AT_DEFINITION}`, `${quoteIdent(deletedAt)} timestamptz`);
  defs.push('PRIMARY KEY ("id")');
  return `CREATE TABLE ${target} (${defs.join(', ')})`;
}

/**
 * The merge of a staged batch into its table, counting what was new and what it wrote. Every listed
 * column is overwritten, the row stamped with the transaction's clock and undeleted — but a row
 * stored exactly as staged (every listed column IS NOT DISTINCT FROM its staged value: exact numeric
 * and jsonb equality, NULL only equal to NULL; and not marked deleted) is skipped, so it is neither
 * `inserted` nor in `written`: the caller counts it unchanged and stamps it with touchSql. Columns
 * not listed (added by a user) keep their values and are not compared. `xmax = 0` holds only for a
 * freshly inserted tuple.
 *
 * The comparison runs where ON CONFLICT has the stored row at hand: no extra lookup, and nothing at
 * all for an insert, so a first load pays nothing for it.
 */
export function mergeSql(target: string, stage: string, columns: readonly Column[]): string {
  const names = columns.map((c) => quoteIdent(c.name));
  const values = names.filter((name) => name !== '"id"');
  const updates = values.map((name) => `${name} = EXCLUDED.${name}`);
  updates.push(
    `${quoteIdent(syncedAt)} = EXCLUDED.${quoteIdent(syncedAt)}`,
    `${quoteIdent(deletedAt)} = NULL`,
  );
  const compared = comparedColumns(columns).map((c) => quoteIdent(c.name));
  const differs =
    `ROW(${compared.map((name) => `t.${name}`).join(', ')}) IS DISTINCT FROM ` +
    `ROW(${compared.map((name) => `EXCLUDED.${name}`).join(', ')}) OR t.${quoteIdent(deletedAt)} IS NOT NULL`;
  return (
    `WITH merged AS (INSERT INTO ${target} AS t (${names.join(', ')}, ${quoteIdent(syncedAt)}, ${quoteIdent(deletedAt)}) ` +
    `SELECT ${names.join(', ')}, now(), NULL FROM ${stage} ` +
    `ON CONFLICT ("id") DO UPDATE SET ${updates.join(', ')} WHERE ${differs} ` +
    `RETURNING (t.xmax = 0) AS inserted) ` +
    `SELECT (count(*) FILTER (WHERE inserted))::int AS inserted, count(*)::int AS written FROM merged`
  );
}

/**
 * Of the ids in `ids` (a bigint[] literal), how many the table holds and how many of those were
 * stamped at or after `since` (a timestamptz literal, or NULL: none), and the transaction's now() as
 * text, for a COPY straight into the table to stamp its rows with (the session's own text form reads
 * back exactly). Literals, not parameters: it travels in one message with the BEGIN before it. The
 * array goes through a sub-select so that the planner does not estimate it id by id (a literal
 * array of 2000 ids in the WHERE clause cost ~16 ms of server CPU a page, measured).
 */
export function probeSql(target: string, ids: string, since: string): string {
  return (
    `SELECT count(*)::int AS existing, (count(*) FILTER (WHERE ${quoteIdent(syncedAt)} >= ${since}::timestamptz))::int AS again, ` +
    `now()::text AS now FROM ${target} WHERE "id" = ANY (ARRAY(SELECT unnest(${ids}::bigint[])))`
  );
}

/**
 * Stamps the staged rows the merge skipped as unchanged: a pass wrote them too (sweeps and
 * countWritten read the stamp). The rows the merge wrote already carry this transaction's now().
 * Ids go through an array: an index lookup per id on a table of any size (planned at each use).
 */
export function touchSql(target: string, stage: string): string {
  return (
    `UPDATE ${target} SET ${quoteIdent(syncedAt)} = now() ` +
    `WHERE "id" = ANY (ARRAY(SELECT "id" FROM ${stage})) AND ${quoteIdent(syncedAt)} IS DISTINCT FROM now()`
  );
}

/** Children of the batch's parents that the batch no longer carries are marked deleted. */
export function markOrphansSql(target: string, stage: string, parentKey: string): string {
  return (
    `UPDATE ${target} AS t SET ${quoteIdent(deletedAt)} = now() ` +
    `WHERE t.${quoteIdent(deletedAt)} IS NULL AND t.${quoteIdent(parentKey)} = ANY($1::bigint[]) ` +
    `AND NOT EXISTS (SELECT 1 FROM ${stage} AS s WHERE s."id" = t."id")`
  );
}

export function sweepSql(target: string): string {
  return (
    `UPDATE ${target} SET ${quoteIdent(deletedAt)} = now() ` +
    `WHERE ${quoteIdent(syncedAt)} < $1::timestamptz AND ${quoteIdent(deletedAt)} IS NULL`
  );
}

/**
 * The state row's upsert; `values` are SQL literals (object, cursor, pass, last full pass): it
 * travels in one message with the statements before it and the COMMIT after it.
 */
export function writeStateSql(schema: string, values: readonly [string, string, string, string]): string {
  const [object, cursor, pass, lastFullPassAt] = values;
  return (
    `INSERT INTO ${quoteIdent(schema)}.${quoteIdent(STATE_TABLE)} ` +
    `("object", "cursor", "pass", "last_full_pass_at", "updated_at") VALUES (${object}, ${cursor}, ${pass}::jsonb, ${lastFullPassAt}, now()) ` +
    'ON CONFLICT ("object") DO UPDATE SET "cursor" = EXCLUDED."cursor", "pass" = EXCLUDED."pass", ' +
    '"last_full_pass_at" = EXCLUDED."last_full_pass_at", "updated_at" = EXCLUDED."updated_at"'
  );
}

/** The numbered steps of the destination's own tables (see own-schema.ts), in PostgreSQL's dialect. */
export function ownMigrations(schema: string): OwnMigration[] {
  return [{ version: 1, description: OWN_STEPS[1], sql: stateTablesSql(schema) }];
}

export function ownSchemaSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.${quoteIdent(OWN_SCHEMA_TABLE)} (
    "version" integer PRIMARY KEY,
    "description" text NOT NULL,
    "applied_at" timestamptz NOT NULL
  )`;
}
