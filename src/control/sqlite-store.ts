import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { SecretBox } from './secrets.js';
import type { SqlDriver, SqlExecutor, SqlParam, SqlRow } from './store.js';
import { SQLITE_CONTROL_FILE } from './data-dir.js';
import { ControlStoreError, SqlControlStore, controlMigrations, migrate } from './store.js';

export { SQLITE_CONTROL_FILE };

/**
 * `$1` → `@p1`: the stores' queries are written once, in PostgreSQL's placeholder style, and bound
 * here by name (better-sqlite3 has no positional binding for numbered parameters).
 */
const toSqlite = (sql: string) => sql.replace(/\$(\d+)/g, '@p$1');
const bind = (params: readonly SqlParam[]): [Record<string, string | number | null>] | [] => {
  if (params.length === 0) return [];
  const named: Record<string, string | number | null> = {};
  params.forEach((p, i) => (named[`p${i + 1}`] = typeof p === 'boolean' ? (p ? 1 : 0) : p));
  return [named];
};

/**
 * better-sqlite3 behind the async SqlDriver seam. Its calls are synchronous, but a transaction's body
 * awaits between statements, so every statement waits its turn on one queue: nothing from another
 * caller can slip into an open transaction.
 */
class SqliteDriver implements SqlDriver {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #exec: SqlExecutor = {
    all: (sql, params = []) =>
      Promise.resolve(this.#db.prepare(toSqlite(sql)).all(...bind(params)) as SqlRow[]),
    run: async (sql, params = []) => {
      const statement = this.#db.prepare(toSqlite(sql));
      if (statement.reader) statement.all(...bind(params));
      else statement.run(...bind(params));
    },
  };

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  all(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]> {
    return this.#enqueue(() => this.#exec.all(sql, params));
  }

  run(sql: string, params?: readonly SqlParam[]): Promise<void> {
    return this.#enqueue(() => this.#exec.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#enqueue(async () => {
      // IMMEDIATE takes the write lock up front, so two processes cannot both read "no running run"
      // and then both insert one; busy_timeout makes the loser wait instead of failing at once.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#exec);
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  isUniqueViolation(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  close(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#db.open) this.#db.close();
    });
  }
}

export interface SqliteControlStoreOptions {
  /** Directory holding control.db (created if missing). */
  readonly dataDir: string;
  readonly secrets: SecretBox;
  readonly clock?: Clock;
}

/**
 * The control database holds pipelines and their encrypted secrets: owner-only (0600), whatever the
 * umask. SQLite gives the -wal and -shm files the mode of the database file, so creating that file
 * 0600 before SQLite opens it covers all three; files left 0644 by an older version are tightened.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Opens (creating if needed) `<dataDir>/control.db` and brings its schema up to date. */
export async function openSqliteControlStore(options: SqliteControlStoreOptions): Promise<SqlControlStore> {
  const path = join(options.dataDir, SQLITE_CONTROL_FILE);
  let db: Database.Database;
  try {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    ownerOnly(path);
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    db.pragma('foreign_keys = ON');
  } catch (error) {
    throw new ControlStoreError(`cannot open the control store ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const driver = new SqliteDriver(db);
  try {
    await migrate(driver, controlMigrations('sqlite'), async () => undefined, options.clock ?? systemClock);
  } catch (error) {
    await driver.close();
    throw new ControlStoreError(`cannot migrate the control store ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return new SqlControlStore(driver, options);
}
