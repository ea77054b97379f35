import type { ColumnType } from '../../src/catalog/types.js';
import { databaseUrl, dropDatabase, queryDatabase, uniqueDatabase } from './mysql-support.js';
import { adminClient, dropSchema, schemaUrl, uniqueSchema } from './postgres-support.js';

/**
 * The database servers a destination URL can name, for tests that run the same scenario on each:
 * a fresh place (schema or database) per test, and a way to read it with portable SQL.
 */
export interface ServerEngine {
  readonly name: 'postgres' | 'mysql';
  /** A destination URL on a schema or database no other test uses (created by the destination). */
  fresh(): { readonly url: string; drop(): Promise<void> };
  /**
   * Runs SQL with "double-quoted" identifiers on the URL's schema or database. Values come back as
   * each driver gives them, except PostgreSQL's, all as text (booleans as booleans): compare them
   * through a canonical form.
   */
  query(url: string, sql: string): Promise<Record<string, unknown>[]>;
  /** What information_schema.columns calls each logical type here (data_type, or MySQL's COLUMN_TYPE). */
  readonly types: { readonly [T in ColumnType]?: string };
  /** The SQL giving a table's column names and types, in their physical order (`name`, `type`). */
  columnsSql(table: string): string;
}

/** pg type parsers that leave every value as PostgreSQL's text, except booleans. */
const textTypes = {
  getTypeParser: (oid: number) => (oid === 16 ? (v: string) => v === 't' : (v: string) => v),
};

export const postgresEngine: ServerEngine = {
  name: 'postgres',
  fresh() {
    const schema = uniqueSchema('hs_srv');
    return { url: schemaUrl(schema), drop: () => dropSchema(schema) };
  },
  async query(url, sql) {
    const client = await adminClient(new URL(url).searchParams.get('schema') ?? undefined);
    try {
      return (await client.query({ text: sql, types: textTypes })).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  },
  types: {
    bigint: 'bigint',
    decimal: 'numeric',
    boolean: 'boolean',
    timestamp: 'timestamp with time zone',
    text: 'text',
    json: 'jsonb',
  },
  columnsSql: (table) =>
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = '${table}' ORDER BY ordinal_position`,
};

export const mysqlEngine: ServerEngine = {
  name: 'mysql',
  fresh() {
    const database = uniqueDatabase();
    return { url: databaseUrl(database), drop: () => dropDatabase(database) };
  },
  query: (url, sql) => queryDatabase(new URL(url).pathname.slice(1), sql),
  types: {
    bigint: 'bigint',
    decimal: 'decimal(40,20)',
    boolean: 'tinyint(1)',
    timestamp: 'datetime(6)',
    text: 'longtext',
    json: 'longtext', // MariaDB's JSON; MySQL 8 says json
  },
  columnsSql: (table) =>
    // MySQL 8.0.19+ shows no display width: bigint(20) is bigint there
    `SELECT COLUMN_NAME AS name, REPLACE(COLUMN_TYPE, 'bigint(20)', 'bigint') AS type
     FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`,
};

export const SERVER_ENGINES: readonly ServerEngine[] = [postgresEngine, mysqlEngine];
