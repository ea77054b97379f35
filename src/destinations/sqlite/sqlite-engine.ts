import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { META_COLUMNS } from '../../catalog/types.js';
import { ConfigError } from '../../errors.js';
import type { DestinationEngine, DestinationTarget } from '../engine.js';
import { readSnapshot } from '../snapshot.js';
import type { SnapshotReader, StoredStateRow } from '../snapshot.js';
import { SqliteDestination } from './sqlite-destination.js';
import { checkSqlitePath, placeSqlitePath, sqlitePathProblem } from './sqlite-path.js';
import { STATE_TABLE, quoteIdent } from './sqlite-sql.js';

const SQLITE_EXTENSIONS = /\.(db|sqlite|sqlite3)$/i;

function pathOf(target: DestinationTarget): string {
  if (target.path === undefined) throw new ConfigError('the SQLite destination has no path');
  return target.path;
}

function reader(db: Database.Database): SnapshotReader {
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

/** A SQLite file: `sqlite:PATH`, `sqlite://PATH`, or a bare path ending in .db/.sqlite/.sqlite3. */
export const sqliteEngine: DestinationEngine = {
  kind: 'sqlite',
  label: 'SQLite',
  usage: 'sqlite:PATH',
  parse(text, scheme, saved) {
    let path: string;
    if (scheme === 'sqlite') {
      path = text.startsWith('sqlite://') ? text.slice('sqlite://'.length) : text.slice('sqlite:'.length);
      // A one-letter "scheme" is a Windows drive (C:\data\harvest.db), not a scheme.
    } else if (SQLITE_EXTENSIONS.test(text) && (scheme === undefined || scheme.length === 1)) {
      path = text;
    } else {
      return null;
    }
    const problem = sqlitePathProblem(path, saved);
    if (problem) throw new ConfigError(`${problem} (use sqlite:PATH)`);
    return { kind: 'sqlite', url: text, path };
  },
  place(target, scope) {
    const path = placeSqlitePath(pathOf(target), scope);
    return { kind: 'sqlite', url: `sqlite:${path}`, path };
  },
  secrets: () => [],
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
