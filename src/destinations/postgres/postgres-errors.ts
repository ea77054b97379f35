import { DestinationError, HarvestSyncError } from '../../errors.js';
import { redactSecrets } from '../../redact.js';
import { CONNECT_REASONS, codeOf, firstLine, knownReasonMessage } from '../driver-errors.js';
import type { Reason } from '../driver-errors.js';

/** Socket-level failures (Node's error codes): the server may come back. */
const NETWORK: Readonly<Record<string, Reason>> = {
  ...CONNECT_REASONS,
  ECONNRESET: { reason: 'connection reset by the server', retryable: true },
  EPIPE: { reason: 'connection closed by the server', retryable: true },
};

/** Server errors by SQLSTATE, or by class (first two characters) when the code is not listed. */
const SQLSTATE: Readonly<Record<string, Reason>> = {
  '28P01': { reason: 'password authentication failed', retryable: false },
  '28000': { reason: 'the server rejected the user', retryable: false },
  '3D000': { reason: 'the database does not exist', retryable: false },
  '42501': { reason: 'permission denied', retryable: false },
  '53300': { reason: 'the server has too many connections', retryable: true },
  '53100': { reason: 'the server is out of disk space', retryable: false },
  '57P01': { reason: 'the server terminated the connection', retryable: true },
  '57P02': { reason: 'the server terminated the connection', retryable: true },
  '57P03': { reason: 'the server is starting up or shutting down', retryable: true },
  '40001': { reason: 'a concurrent transaction conflicted', retryable: true },
  '40P01': { reason: 'a deadlock was detected', retryable: true },
  '08': { reason: 'the connection failed', retryable: true },
  '22': { reason: 'a value was refused', retryable: false },
  '23': { reason: 'a constraint was violated', retryable: false },
};

/** pg's own messages when the socket goes away, which carry no code. */
const LOST_CONNECTION = /Connection terminated|connection timeout|Client has encountered a connection error/i;

/** Whether the connection can no longer be used after this error. */
export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && (code in NETWORK || code.startsWith('08') || code.startsWith('57P'))) return true;
  return LOST_CONNECTION.test(firstLine(error));
}

/**
 * Wraps a driver error into a one-line DestinationError, `context: reason (driver message)`, with
 * the password scrubbed out. Our own errors pass through unchanged.
 */
export function toDestinationError(
  context: string,
  error: unknown,
  secrets: readonly string[],
): HarvestSyncError {
  if (error instanceof HarvestSyncError) return error;
  const code = codeOf(error);
  const known =
    code === undefined ? undefined : (NETWORK[code] ?? SQLSTATE[code] ?? SQLSTATE[code.slice(0, 2)]);
  const detail = firstLine(error);
  let message: string;
  let retryable: boolean;
  if (known) {
    message = knownReasonMessage(context, known, detail);
    retryable = known.retryable;
  } else if (LOST_CONNECTION.test(detail)) {
    message = `${context}: the connection was lost (${detail})`;
    retryable = true;
  } else if (/password must be a string|SASL/i.test(detail)) {
    message = `${context}: the server asks for a password and none was given`;
    retryable = false;
  } else {
    message = `${context}: ${detail || 'unknown error'}`;
    retryable = false;
  }
  return new DestinationError(redactSecrets(message, secrets), { retryable, cause: error });
}
