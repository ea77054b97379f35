import Database from 'better-sqlite3';
import pg from 'pg';
import { parseDestinationUrl } from '../../../src/destinations/index.js';
import { parseMysqlUrl } from '../../../src/destinations/mysql/mysql-url.js';
import { parsePostgresUrl } from '../../../src/destinations/postgres/postgres-url.js';
import { adminConnection } from '../../destinations/mysql-support.js';

/**
 * Everything a destination holds that a run decides, as text lines comparable byte for byte:
 * per table, its column list then one line per row (ascending id) with every column's exact SQL
 * text, after the row's id and `#`; and the sync state (cursor, pass, last full pass) per object.
 *
 * Left out, because they are write-time stamps that differ between any two runs: `_synced_at`, the
 * state's `updated_at`, and the time in `_deleted_at` (kept as whether the row is marked deleted).
 */
export interface Snapshot {
  readonly tables: Record<string, string[]>;
  readonly state: string[];
}

const STATE_TABLE = '_harvest_sync_state';
const STAMPS = new Set(['_synced_at', '_deleted_at']);

export async function snapshot(destinationUrl: string): Promise<Snapshot> {
  const target = parseDestinationUrl(destinationUrl);
  if (target.kind === 'mysql') return mysqlSnapshot(target.url);
  return target.kind === 'sqlite' ? sqliteSnapshot(target.path ?? '') : postgresSnapshot(target.url);
}

function sqliteSnapshot(path: string): Snapshot {
  const db = new Database(path, { readonly: true });
  try {
    const names = (
      db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'`)
        .pluck()
        .all() as string[]
    ).sort();
    const tables: Record<string, string[]> = {};
    for (const name of names) {
      const columns = (
        db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(name) as string[]
      ).filter((c) => !STAMPS.has(c));
      // quote() gives each value's exact SQL literal, its storage class included (1 vs 1.0 vs '1').
      const select = [...columns.map((c) => `quote("${c}")`), `("_deleted_at" IS NOT NULL)`].join(
        ` || '|' || `,
      );
      const rows = db
        .prepare(`SELECT "id" || '#' || ${select} FROM "${name}" ORDER BY id`)
        .pluck()
        .all() as string[];
      tables[name] = [[...columns, 'deleted'].join('|'), ...rows];
    }
    const state = db
      .prepare(
        `SELECT quote("object") || '|' || quote("cursor") || '|' || quote("pass") || '|' || quote("last_full_pass_at")
         FROM "${STATE_TABLE}" ORDER BY "object"`,
      )
      .pluck()
      .all() as string[];
    return { tables, state };
  } finally {
    db.close();
  }
}

async function postgresSnapshot(url: string): Promise<Snapshot> {
  const { schema, connectionString } = parsePostgresUrl(url);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
    const { rows: tableRows } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = $1 AND table_name NOT LIKE '\\_%' ORDER BY table_name`,
      [schema],
    );
    const tables: Record<string, string[]> = {};
    for (const { name } of tableRows) {
      const { rows: columnRows } = await client.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema, name],
      );
      const columns = columnRows.map((c) => c.name).filter((c) => !STAMPS.has(c));
      // Each value as PostgreSQL's own text output, NULL told apart from the text 'NULL'.
      const select = [
        ...columns.map((c) => `coalesce(quote_literal(${q(c)}::text), 'NULL')`),
        `(_deleted_at IS NOT NULL)::text`,
      ].join(` || '|' || `);
      const { rows } = await client.query<{ line: string }>(
        `SELECT id::text || '#' || ${select} AS line FROM ${q(schema)}.${q(name)} ORDER BY id`,
      );
      tables[name] = [[...columns, 'deleted'].join('|'), ...rows.map((r) => r.line)];
    }
    const { rows: stateRows } = await client.query<{ line: string }>(
      `SELECT concat_ws('|', quote_nullable("object"), quote_nullable("cursor"::text), quote_nullable("pass"::text),
         quote_nullable("last_full_pass_at"::text)) AS line
       FROM ${q(schema)}.${q(STATE_TABLE)} ORDER BY "object"`,
    );
    return { tables, state: stateRows.map((r) => r.line) };
  } finally {
    await client.end();
  }
}

async function mysqlSnapshot(url: string): Promise<Snapshot> {
  const connection = await adminConnection(parseMysqlUrl(url).database);
  const lines = async (sql: string): Promise<string[]> => {
    const [rows] = await connection.query({ sql, rowsAsArray: true });
    return (rows as unknown[][]).map((row) => String(row[0]));
  };
  try {
    const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
    const tables: Record<string, string[]> = {};
    const names = await lines(
      `SELECT TABLE_NAME FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_%' ORDER BY TABLE_NAME`,
    );
    for (const name of names) {
      const columns = (
        await lines(
          `SELECT COLUMN_NAME FROM information_schema.COLUMNS
           WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${name}' ORDER BY ORDINAL_POSITION`,
        )
      ).filter((c) => !STAMPS.has(c));
      // Each value as MySQL's own literal (QUOTE gives NULL unquoted), so NULL differs from 'NULL'.
      const select = [...columns.map((c) => `QUOTE(${q(c)})`), `("_deleted_at" IS NOT NULL)`].join(`, '|', `);
      const rows = await lines(`SELECT CONCAT("id", '#', ${select}) FROM ${q(name)} ORDER BY "id"`);
      tables[name] = [[...columns, 'deleted'].join('|'), ...rows];
    }
    const state = await lines(
      `SELECT CONCAT_WS('|', QUOTE("object"), QUOTE("cursor"), QUOTE("pass"), QUOTE("last_full_pass_at"))
       FROM "${STATE_TABLE}" ORDER BY "object"`,
    );
    return { tables, state };
  } finally {
    await connection.end();
  }
}

/** The first difference between two snapshots, in one line; null when they are equal. */
export function snapshotDiff(actual: Snapshot, expected: Snapshot): string | null {
  const names = [...new Set([...Object.keys(actual.tables), ...Object.keys(expected.tables)])].sort();
  for (const name of names) {
    const a = actual.tables[name];
    const e = expected.tables[name];
    if (!a) return `table ${name} is missing`;
    if (!e) return `table ${name} is not expected`;
    const diff = linesDiff(a, e);
    if (diff) return `${name}: ${diff}`;
  }
  const diff = linesDiff(actual.state, expected.state);
  return diff ? `sync state: ${diff}` : null;
}

function linesDiff(actual: readonly string[], expected: readonly string[]): string | null {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      return `line ${i} is ${JSON.stringify(actual[i]?.slice(0, 300))}, expected ${JSON.stringify(expected[i]?.slice(0, 300))} (${actual.length} lines vs ${expected.length})`;
    }
  }
  return null;
}

/** Rows of a snapshot (all tables), and how many are marked deleted: for reports. */
export function snapshotCounts(s: Snapshot): { rows: number; deleted: number } {
  let rows = 0;
  let deleted = 0;
  for (const lines of Object.values(s.tables)) {
    rows += lines.length - 1;
    deleted += lines.slice(1).filter((l) => l.endsWith('|1') || l.endsWith('|true')).length;
  }
  return { rows, deleted };
}

/** The id a snapshot row line starts with. */
export function lineId(line: string): string {
  return line.slice(0, line.indexOf('#'));
}
