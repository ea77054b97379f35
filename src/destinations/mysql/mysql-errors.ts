import type { HarvestSyncError } from '../../errors.js';
import { CONNECT_REASONS, codeOf, wrapDriverError } from '../driver-errors.js';
import type { Reason } from '../driver-errors.js';

const reason = (text: string, retryable: boolean): Reason => ({ reason: text, retryable });
const LOST = reason('the connection was lost', true);

/**
 * mysql2's error codes: Node's socket codes, its own PROTOCOL_* codes and the server's ER_* names.
 * Codes not listed keep the driver's own one-line message.
 */
const REASONS: Readonly<Record<string, Reason>> = {
  ...CONNECT_REASONS,
  ECONNRESET: LOST,
  EPIPE: LOST,
  PROTOCOL_CONNECTION_LOST: LOST,
  ER_CONNECTION_KILLED: LOST,
  ER_SERVER_SHUTDOWN: reason('the server is shutting down', true),
  ER_ACCESS_DENIED_ERROR: reason('access denied (wrong user or password?)', false),
  ER_DBACCESS_DENIED_ERROR: reason('access to the database denied', false),
  ER_TABLEACCESS_DENIED_ERROR: reason('permission denied', false),
  ER_SPECIFIC_ACCESS_DENIED_ERROR: reason('permission denied', false),
  ER_CON_COUNT_ERROR: reason('the server has too many connections', true),
  ER_LOCK_WAIT_TIMEOUT: reason('a row lock held by another session did not come free in time', true),
  ER_LOCK_DEADLOCK: reason('a deadlock was detected', true),
  ER_RECORD_FILE_FULL: reason('the table is full (out of disk space?)', false),
  ER_DISK_FULL: reason('the server is out of disk space', false),
  ER_NET_PACKET_TOO_LARGE: reason("a statement is larger than the server's max_allowed_packet", false),
  ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: reason('a value was refused', false),
  ER_TRUNCATED_WRONG_VALUE: reason('a value was refused', false),
  WARN_DATA_TRUNCATED: reason('a value was refused', false),
  ER_WARN_DATA_OUT_OF_RANGE: reason('a value was refused', false),
  ER_DATA_TOO_LONG: reason('a value was refused', false),
  ER_BAD_NULL_ERROR: reason('a value was refused', false),
  ER_DUP_ENTRY: reason('a constraint was violated', false),
  ER_CONSTRAINT_FAILED: reason('a value was refused', false),
  ER_TOO_BIG_ROWSIZE: reason('the table has too many columns for a MySQL row', false),
};

/** Whether the connection can no longer be used after this error (mysql2 marks those `fatal`). */
export function isConnectionLost(error: unknown): boolean {
  if ((error as { fatal?: unknown } | null)?.fatal === true) return true;
  return REASONS[codeOf(error) ?? ''] === LOST;
}

/** A mysql2 error as a one-line DestinationError (see wrapDriverError). */
export function toDestinationError(
  context: string,
  error: unknown,
  secrets: readonly string[],
): HarvestSyncError {
  return wrapDriverError(context, error, secrets, (e) => {
    return REASONS[codeOf(e) ?? ''] ?? (isConnectionLost(e) ? LOST : undefined);
  });
}
