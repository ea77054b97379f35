/*
 * The defaults and limits of every setting a user gives, and the one check of each. The CLI, the
 * engine's options, the control store, the HTTP API (and through /api/catalog the UI), the Singer
 * tap and the Airbyte source all use these, so a limit changes in one place. A leaf module: it
 * imports nothing of ours, nor zod (the CLI's start-up path loads it; see test/cli/start-path.test.ts). The Harvest API root's default and check are in harvest/base-url.ts.
 */

export interface Range {
  readonly min: number;
  readonly max: number;
}

/** Records per list call: Harvest takes 1–2000 on every list, and 2000 means the fewest calls. */
export const PER_PAGE = { min: 1, max: 2000, default: 2000 } as const;
/** Requests in flight, sharing one rate limit: objects, or date windows of a long one. */
export const CONCURRENCY = { min: 1, max: 16, default: 4 } as const;
/** How often a pipeline runs, in hours. */
export const FREQUENCY_HOURS = { min: 1, max: 24, default: 1 } as const;
/** 720 h = 30 days: past that, deletions would go unnoticed for too long to be useful. */
export const FULL_REFRESH_HOURS = { min: 1, max: 720, default: 24 } as const;
/** `serve --port`: 0 lets the system pick a free port. */
export const PORT = { min: 0, max: 65535, default: 8080 } as const;
/** Runs at a time in one `serve` or `worker` process on a PostgreSQL control store. */
export const MAX_RUNS = { min: 1, max: 64, default: 2 } as const;
/** Seconds of silence after which a worker is taken for dead and its runs resumed elsewhere. */
export const LOST_AFTER_SECONDS = { min: 5, max: 3600, default: 60 } as const;
/** Longer URLs are refused up front: servers answer 414 and clients retry, so they would only fail later. */
export const URL_MAX_LENGTH = 2048;
/** PATH_MAX and NAME_MAX on Linux: a longer path, or a longer name in one, could never be created. */
export const PATH_MAX_BYTES = 4096;
export const NAME_MAX_BYTES = 255;

/** Null when `path` fits PATH_MAX and each of its names NAME_MAX; else the rule it breaks. */
export function pathLengthProblem(path: string): string | null {
  if (Buffer.byteLength(path) > PATH_MAX_BYTES) return `is too long (at most ${PATH_MAX_BYTES} bytes)`;
  if (path.split(/[\\/]/).some((part) => Buffer.byteLength(part) > NAME_MAX_BYTES))
    return `has a name too long (at most ${NAME_MAX_BYTES} bytes each)`;
  return null;
}

/** Where `harvest-sync run` writes when no destination is given. */
export const DEFAULT_DESTINATION_URL = 'sqlite:./harvest.db';

/** "1-24 (default 1)", for help texts. */
export function rangeInWords(range: Range & { readonly default: number }): string {
  return `${range.min}-${range.max} (default ${range.default})`;
}

/** "must be a whole number from 1 to 2000", or with a unit "… of hours from 1 to 24". */
export function wholeNumberRule(range: Range, unit?: string): string {
  return `must be a whole number ${unit === undefined ? '' : `of ${unit} `}from ${range.min} to ${range.max}`;
}

/** Null when `value` is a whole number within `range`; else the rule it breaks (see wholeNumberRule). */
export function wholeNumberProblem(value: number, range: Range, unit?: string): string | null {
  return Number.isInteger(value) && value >= range.min && value <= range.max
    ? null
    : wholeNumberRule(range, unit);
}

const SINCE_RULE = 'must be a date like 2024-01-31';

/**
 * Null when `value` is a calendar date as YYYY-MM-DD (2024-02-30 is not) and, when `now` is given,
 * not after it; else the rule it breaks. The engine checks the form only: its clock may be a test's.
 */
export function sinceProblem(value: string, now?: number): string | null {
  // a malformed or impossible date (2024-02-30) is told only the shape: the future is not its problem
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return SINCE_RULE;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(value))
    return `${SINCE_RULE} (a real calendar date)`;
  return now !== undefined && date.getTime() > now ? `${SINCE_RULE}, not in the future` : null;
}

/**
 * A checked input: its normalised value, or the one line that says what is wrong with it (the field
 * named first). The checks below are the rules themselves, free of zod so that the CLI starts fast;
 * src/schema-fields.ts wraps each in a zod field for the schemas of the API, the control store and
 * the connectors, so every surface applies the same rule with the same message.
 */
export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function refused<T>(message: string): Checked<T> {
  return { ok: false, message };
}

export interface WholeNumberOptions {
  readonly unit?: string;
  /** The message when the input is absent (undefined or null); the rule otherwise. */
  readonly missing?: string;
}

/**
 * A whole number within `range`, given as JSON (6) or as text ("6", " 6 "); anything else (1.5,
 * "abc", "") is refused with `<field> must be a whole number …`.
 */
export function checkWholeNumber(
  field: string,
  range: Range,
  input: unknown,
  options: WholeNumberOptions = {},
): Checked<number> {
  const message = `${field} ${wholeNumberRule(range, options.unit)}`;
  if (input === undefined || input === null) return refused(options.missing ?? message);
  const n =
    typeof input === 'number'
      ? input
      : typeof input === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(input)
        ? Number(input)
        : Number.NaN;
  return wholeNumberProblem(n, range) === null ? ok(n) : refused(message);
}

/** A `since` date (YYYY-MM-DD, not after `now`), trimmed; `<field> must be a date like …` otherwise. */
export function checkSince(field: string, input: unknown, now: number): Checked<string> {
  if (typeof input !== 'string') return refused(`${field} ${SINCE_RULE}, not in the future`);
  const date = input.trim();
  const problem = sinceProblem(date, now);
  return problem === null ? ok(date) : refused(`${field} ${problem}`);
}

/** A client-side request budget: `requests` per window of `windowMs`. */
export interface RateLimitSetting {
  readonly requests: number;
  readonly windowMs: number;
}

/** Requests per window, as REQUESTS/SECONDS ("100/15"); `field` starts every message. */
export function checkRateLimit(field: string, input: unknown): Checked<RateLimitSetting> {
  const shape = `${field} must look like REQUESTS/SECONDS, e.g. 100/15`;
  if (typeof input !== 'string' || !/^\d+\/\d+(\.\d+)?$/.test(input)) return refused(shape);
  const [requests, seconds] = input.split('/').map(Number);
  const windowMs = Math.round(seconds * 1000);
  return requests >= 1 && windowMs >= 1
    ? ok({ requests, windowMs })
    : refused(`${field} must allow at least 1 request per window`);
}
