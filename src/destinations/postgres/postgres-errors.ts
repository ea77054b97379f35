import type { HarvestSyncError } from '../../errors.js';
import { CONNECT_REASONS, codeOf, firstLine, wrapDriverError } from '../driver-errors.js';
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

const LOST: Reason = { reason: 'the connection was lost', retryable: true };
const NO_PASSWORD: Reason = {
  reason: 'the server asks for a password and none was given',
  retryable: false,
  quiet: true,
};

/** A pg error as a one-line DestinationError (see wrapDriverError). */
export function toDestinationError(
  context: string,
  error: unknown,
  secrets: readonly string[],
): HarvestSyncError {
  return wrapDriverError(context, error, secrets, (e, detail) => {
    const code = codeOf(e);
    if (code !== undefined) {
      const known = NETWORK[code] ?? SQLSTATE[code] ?? SQLSTATE[code.slice(0, 2)];
      if (known) return known;
    }
    if (LOST_CONNECTION.test(detail)) return LOST;
    if (/password must be a string|SASL/i.test(detail)) return NO_PASSWORD;
    return undefined;
  });
}
