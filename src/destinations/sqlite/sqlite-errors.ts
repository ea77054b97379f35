import { DestinationError, HarvestSyncError } from '../../errors.js';

/** Why a SQLite call failed, in words a user can act on, keyed by SQLite's primary result code. */
const REASONS: Readonly<Record<string, { readonly reason: string; readonly retryable: boolean }>> = {
  SQLITE_FULL: { reason: 'the disk (or the database size limit) is full', retryable: false },
  SQLITE_READONLY: { reason: 'the database file is read-only', retryable: false },
  SQLITE_BUSY: { reason: 'the database is locked by another connection', retryable: true },
  SQLITE_LOCKED: { reason: 'the database is locked by another connection', retryable: true },
  SQLITE_NOTADB: { reason: 'the file is not a SQLite database', retryable: false },
  SQLITE_CORRUPT: { reason: 'the database file is corrupt', retryable: false },
  SQLITE_CANTOPEN: { reason: 'the file cannot be opened', retryable: false },
  SQLITE_IOERR: { reason: 'a disk I/O error occurred', retryable: false },
  SQLITE_PERM: { reason: 'permission denied', retryable: false },
};

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Wraps a driver error into a one-line DestinationError: `context: reason (driver message)`.
 * Our own errors pass through unchanged.
 */
export function toDestinationError(context: string, error: unknown): HarvestSyncError {
  if (error instanceof HarvestSyncError) return error;
  const code = sqliteCode(error);
  // Extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED…) share their primary code's reason.
  const known = code === undefined ? undefined : REASONS[code.split('_').slice(0, 2).join('_')];
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  const message = known ? `${context}: ${known.reason} (${detail})` : `${context}: ${detail}`;
  return new DestinationError(message, { retryable: known?.retryable ?? false, cause: error });
}
