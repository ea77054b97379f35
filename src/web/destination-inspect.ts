import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { findObject } from '../catalog/objects.js';
import { META_COLUMNS } from '../catalog/types.js';
import { parseDestinationUrl } from '../destinations/index.js';
import { parsePostgresUrl } from '../destinations/postgres/postgres-url.js';
import { STATE_TABLE, quoteIdent as quotePg } from '../destinations/postgres/postgres-sql.js';
import { quoteIdent as quoteSqlite } from '../destinations/sqlite/sqlite-sql.js';
import { userMessage } from '../errors.js';

/*
 * What a pipeline's destination holds, for the pipeline page: rows per table and each object's cursor.
 * Read-only and without the run lock, on purpose: taking the lock (Destination.open) would make a
 * scheduled run starting at that moment fail as busy, and a page view must never do that. SQLite runs
 * in WAL mode and PostgreSQL uses MVCC, so these reads see the last committed batch while a run writes.
 */

export interface TableCount {
  readonly table: string;
  /** Rows in the table, those marked deleted included; null when the table does not exist yet. */
  readonly rows: number | null;
  /** Rows with `_deleted_at` set. */
  readonly deletedRows: number | null;
}

export interface ObjectReport extends TableCount {
  readonly object: string;
  /** `updated_since` of the next incremental pass; null before a first pass completes. */
  readonly cursor: string | null;
  readonly lastFullPassAt: string | null;
  /** Whether a pass was interrupted and will resume where it stopped. */
  readonly passPending: boolean;
  readonly children: readonly TableCount[];
}

export interface DestinationReport {
  /** False when the destination could not be read (the message says why); objects are then empty. */
  readonly available: boolean;
  readonly message: string | null;
  readonly objects: readonly ObjectReport[];
}

interface StateRow {
  readonly object: string;
  readonly cursor: string | null;
  readonly pass: unknown;
  readonly last_full_pass_at: string | null;
}

/** The reads both engines answer; each engine's SQL differs only in quoting and placeholders. */
interface Reader {
  tableExists(table: string): Promise<boolean>;
  count(table: string): Promise<{ rows: number; deleted: number }>;
  states(): Promise<StateRow[]>;
}

const DELETED = META_COLUMNS.deletedAt;

/**
 * Reads row counts and cursors of `objects` from a destination. `url` is the full URL (password
 * included, never returned); relative SQLite paths must already be resolved. Never throws.
 */
export async function inspectDestination(
  url: string,
  objects: readonly string[],
): Promise<DestinationReport> {
  let secrets: readonly string[] = [];
  try {
    const target = parseDestinationUrl(url);
    if (target.kind === 'sqlite') {
      if (!existsSync(target.path)) {
        return { available: false, message: 'nothing has been written to the destination yet', objects: [] };
      }
      const db = new Database(target.path, { readonly: true, fileMustExist: true });
      try {
        db.pragma('busy_timeout = 2000');
        return { available: true, message: null, objects: await report(sqliteReader(db), objects) };
      } finally {
        db.close();
      }
    }
    const pgTarget = parsePostgresUrl(target.url);
    secrets = pgTarget.secrets;
    const client = new pg.Client({
      connectionString: pgTarget.connectionString,
      connectionTimeoutMillis: 5000,
      statement_timeout: 15_000,
      application_name: 'harvest-sync-ui',
    });
    // an idle-connection error after a failed query must not crash the server
    client.on('error', () => undefined);
    await client.connect();
    try {
      return {
        available: true,
        message: null,
        objects: await report(postgresReader(client, pgTarget.schema), objects),
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    let message = `cannot read the destination: ${userMessage(error)}`;
    for (const secret of secrets) message = message.split(secret).join('***');
    return { available: false, message, objects: [] };
  }
}

async function report(reader: Reader, objects: readonly string[]): Promise<ObjectReport[]> {
  const states = new Map(
    (await reader.tableExists(STATE_TABLE)) ? (await reader.states()).map((s) => [s.object, s]) : [],
  );
  const countOf = async (table: string): Promise<TableCount> => {
    if (!(await reader.tableExists(table))) return { table, rows: null, deletedRows: null };
    const { rows, deleted } = await reader.count(table);
    return { table, rows, deletedRows: deleted };
  };
  const out: ObjectReport[] = [];
  for (const name of objects) {
    const spec = findObject(name);
    if (!spec) continue;
    const state = states.get(name);
    const children: TableCount[] = [];
    for (const child of spec.children) children.push(await countOf(child.name));
    out.push({
      object: name,
      ...(await countOf(spec.name)),
      cursor: state?.cursor ?? null,
      lastFullPassAt: state?.last_full_pass_at ?? null,
      passPending: state !== undefined && state.pass !== null,
      children,
    });
  }
  return out;
}

function sqliteReader(db: Database.Database): Reader {
  return {
    tableExists: async (table) =>
      db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined,
    count: async (table) => {
      const row = db
        .prepare(
          `SELECT count(*) AS rows, count(${quoteSqlite(DELETED)}) AS deleted FROM ${quoteSqlite(table)}`,
        )
        .get() as { rows: number; deleted: number };
      return { rows: row.rows, deleted: row.deleted };
    },
    states: async () =>
      db
        .prepare(`SELECT "object", "cursor", "pass", "last_full_pass_at" FROM ${quoteSqlite(STATE_TABLE)}`)
        .all() as StateRow[],
  };
}

function postgresReader(client: pg.Client, schema: string): Reader {
  return {
    tableExists: async (table) =>
      (
        await client.query(
          'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
          [schema, table],
        )
      ).rowCount !== 0,
    count: async (table) => {
      const result = await client.query<{ rows: string; deleted: string }>(
        `SELECT count(*) AS rows, count(${quotePg(DELETED)}) AS deleted FROM ${quotePg(schema)}.${quotePg(table)}`,
      );
      const row = result.rows[0];
      return { rows: Number(row?.rows ?? 0), deleted: Number(row?.deleted ?? 0) };
    },
    states: async () =>
      (
        await client.query<StateRow>(
          `SELECT "object", "cursor", "pass", "last_full_pass_at" FROM ${quotePg(schema)}.${quotePg(STATE_TABLE)}`,
        )
      ).rows,
  };
}
