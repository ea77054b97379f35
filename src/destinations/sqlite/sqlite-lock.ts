import { Database } from './sqlite-driver.js';
import { DestinationBusyError } from '../../errors.js';
import { toDestinationError } from './sqlite-errors.js';

/**
 * The run lock of a SQLite destination: an exclusive SQLite lock held on a small side file
 * (`PATH.lock`) for the whole run. SQLite takes it with POSIX advisory locks, which the kernel drops
 * when the holding process dies, so a run killed with -9 leaves nothing behind that could block the
 * next one — no pid file to judge stale, no heartbeat. It lives beside the database rather than in
 * it so that readers (reports, the web UI) are never locked out of the data while a run writes.
 */
export class SqliteRunLock {
  private db: Database | null = null;

  constructor(private readonly databasePath: string) {}

  get path(): string {
    return `${this.databasePath}.lock`;
  }

  /** Takes the lock at once or throws DestinationBusyError: a run never queues behind another. */
  acquire(): void {
    if (this.db) return;
    let db: Database | undefined;
    try {
      db = new Database(this.path);
      db.pragma('busy_timeout = 0');
      db.exec('BEGIN EXCLUSIVE');
      this.db = db;
    } catch (error) {
      db?.close();
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new DestinationBusyError(
          `another run is writing to ${this.databasePath}; wait for it to finish or stop it`,
        );
      }
      throw toDestinationError(`cannot lock SQLite database at ${this.databasePath}`, error);
    }
  }

  release(): void {
    const db = this.db;
    this.db = null;
    if (!db) return;
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
}
