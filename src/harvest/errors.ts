import type { AccessLevel } from '../catalog/types.js';
import { HarvestSyncError } from '../errors.js';
import { DEFAULT_BASE_URL } from './base-url.js';

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
  'HARVEST_NOT_API', // an answer that is not Harvest's (an HTML 404, a proxy's page): the API root is wrong
  'HARVEST_TLS', // the server's TLS certificate was refused: never retried (see certificateError)
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
 * 404 on list endpoints for missing permissions, so a 404 there counts too. Only Harvest's own
 * answers count (a JSON error body): an HTML 404 means the URL is wrong, not the permissions.
 */
export function isPermissionError(error: unknown): error is HarvestApiError {
  if (!(error instanceof HarvestApiError)) return false;
  return error.code === 'HARVEST_FORBIDDEN' || (error.code === 'HARVEST_NOT_FOUND' && error.listEndpoint);
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

/**
 * Whether an error body is Harvest's own: JSON with a `message` (403, 422), an `error` (401, and 404
 * as `{"status":404,"error":"Not Found"}`). Harvest's unknown routes answer an HTML page instead, and
 * so do proxies and web servers that are not the API.
 */
export function isHarvestErrorBody(bodyText: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const { message, error } = parsed as Record<string, unknown>;
  return (
    (typeof message === 'string' && message.trim() !== '') ||
    (typeof error === 'string' && error.trim() !== '')
  );
}

/** What an answer that is not Harvest's held, in a few words: never its text (it may be anyone's). */
export function describeForeignBody(bodyText: string, contentType: string | null): string {
  if (bodyText.trim() === '') return 'an empty body';
  if (/html/i.test(contentType ?? '') || /^\s*<(!doctype|html)/i.test(bodyText)) return 'an HTML page';
  return "a body that is not Harvest's JSON";
}

/**
 * The error for an answer that did not come from Harvest's API (or from a route it does not have),
 * naming the URL asked (origin and path, never a credential) but never repeating the body.
 */
export function notHarvestError(input: {
  readonly status: number;
  readonly object: string;
  /** Scheme, host and port of the URL requested. */
  readonly origin: string;
  /** Its path and query, without credentials (safePath). */
  readonly path: string;
  readonly what: string;
  readonly listEndpoint?: boolean;
}): HarvestApiError {
  const { status, object, path, what } = input;
  return new HarvestApiError(
    'HARVEST_NOT_API',
    `${object}: GET ${input.origin}${path} answered ${status} with ${what}, not an answer of Harvest's API: check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl); Harvest's own is ${DEFAULT_BASE_URL}`,
    { status, object, path, listEndpoint: input.listEndpoint ?? false },
  );
}

/**
 * Why objects could not be read, on one line: "clients: …; contacts: … (and 12 more)". Reasons
 * already starting with the object's name are kept as they are.
 */
export function reasonsLine(
  items: ReadonlyArray<{ readonly name: string; readonly reason?: string | null }>,
  max = 3,
): string {
  const shown = items.slice(0, max).map(({ name, reason }) => {
    const text = reason ?? 'no reason given';
    return text.startsWith(`${name}:`) ? text : `${name}: ${text}`;
  });
  const more = items.length - shown.length;
  return `${shown.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
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
  /** Where the request went (scheme, host, port), to name the URL when the answer is not Harvest's. */
  readonly origin?: string;
  readonly bodyText: string;
  readonly contentType?: string | null;
  /** Set for list endpoints: which role the catalog says can read the object. */
  readonly access?: AccessLevel;
}

/** Statuses whose Harvest meaning (bad token, no permission, no such thing) holds only for Harvest's own answer. */
const HARVEST_BODY_REQUIRED = new Set([401, 403, 404]);

/** The final error for a non-retryable HTTP status (400/401/403/404/422 and other 4xx). */
export function statusError(input: StatusErrorInput): HarvestApiError {
  const { status, object, path } = input;
  const listEndpoint = input.access !== undefined;
  if (HARVEST_BODY_REQUIRED.has(status) && !isHarvestErrorBody(input.bodyText)) {
    const what = describeForeignBody(input.bodyText, input.contentType ?? null);
    return notHarvestError({ status, object, origin: input.origin ?? '', path, what, listEndpoint });
  }
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

/**
 * Node's codes for a server certificate it refused, with what each means to a user. Another try
 * cannot help (the certificate or the trust store must change), so these fail at the first attempt.
 */
const CERTIFICATE_PROBLEMS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends at a root certificate this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "the certificate's issuer is unknown here (a private CA, or an incomplete chain)",
  UNABLE_TO_GET_ISSUER_CERT: "the certificate's issuer is unknown here",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the certificate's issuer is unknown here (a private CA?)",
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: "the certificate is not valid yet (or this machine's clock is wrong)",
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name',
  HOSTNAME_MISMATCH: 'the certificate is for another host name',
  CERT_REVOKED: 'the certificate was revoked',
  CERT_UNTRUSTED: 'the certificate is not trusted',
  CERT_REJECTED: 'the certificate is not trusted',
  CERT_SIGNATURE_FAILURE: "the certificate's signature is invalid",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "the certificate's signature is invalid",
  INVALID_CA: 'an issuer in its chain may not sign certificates',
  INVALID_PURPOSE: 'the certificate is not for a server',
  CERT_CHAIN_TOO_LONG: 'its chain is too long',
  PATH_LENGTH_EXCEEDED: 'its chain is too long',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "the certificate's validity dates are unreadable",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "the certificate's validity dates are unreadable",
};

/** The code of a refused certificate behind a failed request (node:http or fetch puts it in `cause`), if that is why. */
export function certificateCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const code = cause?.code;
  return typeof code === 'string' && Object.hasOwn(CERTIFICATE_PROBLEMS, code) ? code : undefined;
}

/**
 * The final error for a refused certificate (certificateCode): what the code means, and the fix
 * for the usual cause, a server behind a private CA (README: NODE_EXTRA_CA_CERTS).
 */
export function certificateError(input: {
  readonly code: string;
  readonly object: string;
  /** Scheme, host and port of the URL requested. */
  readonly origin: string;
  readonly path: string;
  readonly listEndpoint?: boolean;
}): HarvestApiError {
  const { code, object, path } = input;
  return new HarvestApiError(
    'HARVEST_TLS',
    `${object}: the TLS certificate of ${input.origin} was refused (${code}: ${CERTIFICATE_PROBLEMS[code]}), so GET ${path} was not sent; a certificate from your own CA is trusted by starting harvest-sync with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, otherwise check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl)`,
    { status: null, object, path, listEndpoint: input.listEndpoint ?? false },
  );
}
