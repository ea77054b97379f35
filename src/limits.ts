import { z } from 'zod';

/*
 * The defaults and limits of every setting a user gives, and the one check of each. The CLI, the
 * engine's options, the control store, the HTTP API (and through /api/catalog the UI), the Singer
 * tap and the Airbyte source all use these, so a limit changes in one place. A leaf module: it
 * imports nothing of ours. The Harvest API root's default and check are in harvest/base-url.ts.
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
 * A whole number within `range`, given as JSON (6) or as text ("6", " 6 "); anything else (1.5,
 * "abc", "") fails with `<field> must be a whole number …`. `missing` is the message when absent.
 */
export function wholeNumberField(
  field: string,
  range: Range,
  options: { unit?: string; missing?: string } = {},
) {
  const message = `${field} ${wholeNumberRule(range, options.unit)}`;
  const missing = options.missing ?? message;
  return z
    .union([z.number(), z.string()], {
      error: (issue) => (issue.input === undefined || issue.input === null ? missing : message),
    })
    .transform((v, ctx) => {
      const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN;
      if (wholeNumberProblem(n, range) === null) return n;
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    });
}

/** A `since` date (YYYY-MM-DD, not in the future), trimmed; `<field> must be a date like …` otherwise. */
export function sinceField(field: string) {
  return z
    .string({ error: `${field} ${SINCE_RULE}, not in the future` })
    .trim()
    .superRefine((d, ctx) => {
      const problem = sinceProblem(d, Date.now());
      if (problem !== null) ctx.addIssue({ code: 'custom', message: `${field} ${problem}` });
    });
}

/** Requests per window, as REQUESTS/SECONDS ("100/15"); `field` starts every message. */
export function rateLimitField(field: string) {
  const shape = `${field} must look like REQUESTS/SECONDS, e.g. 100/15`;
  return z
    .string({ error: shape })
    .regex(/^\d+\/\d+(\.\d+)?$/, shape)
    .transform((v) => {
      const [requests, seconds] = v.split('/').map(Number);
      return { requests, windowMs: Math.round(seconds * 1000) };
    })
    .refine((r) => r.requests >= 1 && r.windowMs >= 1, `${field} must allow at least 1 request per window`);
}
