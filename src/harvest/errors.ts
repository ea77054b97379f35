import type { AccessLevel } from '../catalog/types.js';
import { HarvestSyncError } from '../errors.js';

/** Stable codes of HarvestApiError, one per way a Harvest call can end badly. */
export const HARVEST_ERROR_CODES = [
  'HARVEST_UNAUTHORIZED', // 401: token invalid, expired, revoked (or account id missing)
  'HARVEST_FORBIDDEN', // 403: wrong account id, or the token's role may not read this
  'HARVEST_NOT_FOUND', // 404: unknown route, or (on list endpoints) a permission problem
  'HARVEST_UNPROCESSABLE', // 422: Harvest refused the query (e.g. per_page out of range)
  'HARVEST_BAD_REQUEST', // 400 and other unexpected 4xx
  'HARVEST_RATE_LIMITED', // still 429 after bounded waits, or asked to wait too long
  'HARVEST_UNAVAILABLE', // 5xx, network errors, resets, timeouts after bounded retries
  'HARVEST_BAD_RESPONSE', // a 2xx whose body is not what the endpoint promises, or a bad links.next
] as const;
export type HarvestErrorCode = (typeof HARVEST_ERROR_CODES)[number];

/**
 * A Harvest call that failed for good (or, while `retryable`, one attempt that may be retried).
 * `path` is the URL path and query only: never the origin's credentials, never a header.
 */
export class HarvestApiError extends HarvestSyncError {
  declare readonly code: HarvestErrorCode;
  /** HTTP status, or null when no response came (network error, timeout). */
  readonly status: number | null;
  readonly object: string;
  readonly path: string;
  /** Whether the call was to a list endpoint (where a 404 can mean "not allowed"). */
  readonly listEndpoint: boolean;

  constructor(
    code: HarvestErrorCode,
    message: string,
    details: {
      status: number | null;
      object: string;
      path: string;
      listEndpoint?: boolean;
      retryable?: boolean;
      cause?: unknown;
    },
  ) {
    super(code, message, { retryable: details.retryable ?? false, cause: details.cause });
    this.status = details.status;
    this.object = details.object;
    this.path = details.path;
    this.listEndpoint = details.listEndpoint ?? false;
  }
}

/**
 * True when the token simply may not read this object: the engine then skips the object and
 * reports why instead of failing the run. Harvest documents 403 for this; it has also answered
 * 404 on list endpoints for missing permissions, so a 404 there counts too.
 */
export function isPermissionError(error: unknown): error is HarvestApiError {
  if (!(error instanceof HarvestApiError)) return false;
  return error.status === 403 || (error.status === 404 && error.listEndpoint);
}

const TOKEN_HELP = 'create a new personal access token at https://id.getharvest.com/developers';

const ACCESS_HINT: Record<AccessLevel, string> = {
  admin: 'an administrator token is needed',
  manager: 'an administrator token (or a manager with the matching permission) is needed',
  member: 'check the account id (Harvest-Account-Id) and that the user is active',
};

/** Harvest's human text from an error body, on one short line; '' when there is none (HTML, empty). */
export function harvestMessage(bodyText: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return '';
  }
  if (typeof parsed !== 'object' || parsed === null) return '';
  const record = parsed as Record<string, unknown>;
  for (const key of ['message', 'error_description', 'error']) {
    const value = record[key];
    if (typeof value === 'string' && value.trim() !== '') return oneLine(value);
  }
  return '';
}

function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export interface StatusErrorInput {
  readonly status: number;
  readonly statusText: string;
  readonly object: string;
  readonly path: string;
  readonly bodyText: string;
  /** Set for list endpoints: which role the catalog says can read the object. */
  readonly access?: AccessLevel;
}

/** The final error for a non-retryable HTTP status (400/401/403/404/422 and other 4xx). */
export function statusError(input: StatusErrorInput): HarvestApiError {
  const { status, object, path } = input;
  const listEndpoint = input.access !== undefined;
  const said = harvestMessage(input.bodyText);
  const details = { status, object, path, listEndpoint };
  const statusLabel = `${status}${said ? ` ${said}` : input.statusText ? ` ${input.statusText}` : ''}`;
  switch (status) {
    case 401:
      return new HarvestApiError(
        'HARVEST_UNAUTHORIZED',
        `${object}: Harvest rejected the access token (401): it is invalid, expired or revoked — ${TOKEN_HELP} (and check the account id)`,
        details,
      );
    case 403:
      return new HarvestApiError(
        'HARVEST_FORBIDDEN',
        listEndpoint
          ? `${object}: this token may not read ${object} (${statusLabel}): ${ACCESS_HINT[input.access ?? 'member']}`
          : `${object}: Harvest refused access (${statusLabel}): check the account id (Harvest-Account-Id) belongs to this token's user`,
        details,
      );
    case 404:
      return new HarvestApiError(
        'HARVEST_NOT_FOUND',
        listEndpoint
          ? `${object}: Harvest answered 404 Not Found for GET ${path}: this token may not read ${object}, or the API root (--base-url / HARVEST_BASE_URL) is wrong`
          : `${object}: Harvest answered 404 Not Found for GET ${path}: check the API root (--base-url / HARVEST_BASE_URL)`,
        details,
      );
    case 422:
      return new HarvestApiError(
        'HARVEST_UNPROCESSABLE',
        `${object}: Harvest rejected GET ${path} (422): ${said || 'the request could not be processed'}`,
        details,
      );
    default:
      return new HarvestApiError(
        'HARVEST_BAD_REQUEST',
        `${object}: Harvest rejected GET ${path} (${statusLabel})`,
        details,
      );
  }
}
