/** What the network drivers (pg, mysql2) share in turning their errors into one-line messages. */

import { DestinationError, HarvestSyncError } from '../errors.js';
import { redactSecrets } from '../redact.js';

export interface Reason {
  readonly reason: string;
  readonly retryable: boolean;
  /** The driver's own message adds nothing to the reason: leave it out. */
  readonly quiet?: boolean;
}

/** Node's socket codes when the connection could not be made: the same words for every server. */
export const CONNECT_REASONS: Readonly<Record<string, Reason>> = {
  ECONNREFUSED: {
    reason: 'connection refused (is the server running and listening on TCP?)',
    retryable: true,
  },
  ENOTFOUND: { reason: 'host not found', retryable: false },
  EAI_AGAIN: { reason: 'host name lookup failed', retryable: true },
  ETIMEDOUT: { reason: 'connection timed out', retryable: true },
  EHOSTUNREACH: { reason: 'host unreachable', retryable: true },
  ENETUNREACH: { reason: 'network unreachable', retryable: true },
};

export function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; errors?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  // Node reports each address it tried (IPv6, then IPv4) in an AggregateError.
  if (Array.isArray(e?.errors)) return codeOf(e.errors[0]);
  return undefined;
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].trim();
}

/** `context: reason (driver message)`, leaving the driver's message out when it says no more. */
export function knownReasonMessage(context: string, known: Reason, detail: string): string {
  return detail && !known.quiet && !detail.includes(known.reason)
    ? `${context}: ${known.reason} (${detail})`
    : `${context}: ${known.reason}`;
}

/**
 * Wraps a driver error into a one-line DestinationError, `context: reason (driver message)`, with
 * the password scrubbed out; `explain` gives the reason when the driver's table knows one. Our own
 * errors pass through unchanged.
 */
export function wrapDriverError(
  context: string,
  error: unknown,
  secrets: readonly string[],
  explain: (error: unknown, detail: string) => Reason | undefined,
): HarvestSyncError {
  if (error instanceof HarvestSyncError) return error;
  const detail = firstLine(error);
  const known = explain(error, detail);
  const message = known
    ? knownReasonMessage(context, known, detail)
    : `${context}: ${detail || 'unknown error'}`;
  return new DestinationError(redactSecrets(message, secrets), {
    retryable: known?.retryable ?? false,
    cause: error,
  });
}
