import { existsSync } from 'node:fs';
import { Database } from './sqlite-driver.js';
import { META_COLUMNS } from '../../catalog/types.js';
import { ConfigError } from '../../errors.js';
import type { DestinationTarget, EngineAccess } from '../engine.js';
import { readSnapshot } from '../snapshot.js';
import type { SnapshotReader, StoredStateRow } from '../snapshot.js';
import { SqliteDestination } from './sqlite-destination.js';
import { checkSqlitePath } from './sqlite-path.js';
import { STATE_TABLE, quoteIdent } from './sqlite-sql.js';

function pathOf(target: DestinationTarget): string {
  if (target.path === undefined) throw new ConfigError('the SQLite destination has no path');
  return target.path;
}

function reader(db: Database): SnapshotReader {
  const columns = (table: string): string[] =>
    db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
  return {
    columns: async (table) => columns(table),
    counts: async (table) =>
      db
        .prepare(
          `SELECT count(*) AS rows, count(${quoteIdent(META_COLUMNS.deletedAt)}) AS deleted FROM ${quoteIdent(table)}`,
        )
        .get() as { rows: number; deleted: number },
    states: async () =>
      columns(STATE_TABLE).length === 0
        ? []
        : (db
            .prepare(`SELECT "object", "cursor", "pass", "last_full_pass_at" FROM ${quoteIdent(STATE_TABLE)}`)
            .all() as StoredStateRow[]),
  };
}

/** A SQLite file's access: better-sqlite3 loads with it (see sqlite-engine.ts for its URLs). */
export const sqliteAccess: EngineAccess = {
  async test(target) {
    const path = pathOf(target);
    checkSqlitePath(path);
    return `SQLite database can be written at ${path}`;
  },
  async introspect(target, tables) {
    const path = pathOf(target);
    if (!existsSync(path)) return null;
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 2000');
      return await readSnapshot(reader(db), tables);
    } finally {
      db.close();
    }
  },
  open: (target) => new SqliteDestination(pathOf(target)),
};

/**
 * Rows of a read-only query on a SQLite file (the demo shows a few from the replica it made). The
 * file must exist; nothing is created or written.
 */
export function querySqliteFile(path: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}
