/** What the network drivers (pg, mysql2) share in turning their errors into one-line messages. */

export interface Reason {
  readonly reason: string;
  readonly retryable: boolean;
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
  return detail && !detail.includes(known.reason)
    ? `${context}: ${known.reason} (${detail})`
    : `${context}: ${known.reason}`;
}
