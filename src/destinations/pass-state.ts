import { DestinationError } from '../errors.js';
import type { ObjectState, PassState, StreamState } from './destination.js';

/**
 * How a pass under way is stored in a destination's `_harvest_sync_state.pass`: JSON carrying
 * `version`, parsed with a schema on the way back, so a resumed run never acts on a state it does
 * not understand. Versions:
 * - 1 (no `version` field): written before states were versioned; either `streams` or, older still,
 *   a single `nextUrl`. Read as it was written; windows may carry both bounds.
 * - 2: as 1, always with `streams`.
 * - 3: as 2, plus `firstDate` (reports: ObjectState.firstDate). With no pass under way the column
 *   then holds `{"version":3,"firstDate":…}` alone: kept between runs, no pass to resume.
 */
export const PASS_STATE_VERSION = 3;

/** A saved state that cannot be resumed: its message says which object, where, and what to do. */
export class StateError extends DestinationError {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}

/*
 * The saved pass is read with plain checks rather than zod: every `harvest-sync run` reads its
 * objects' states before its first request, and loading zod cost more than the rest of the start
 * (issue 16; test/cli/start-path.test.ts). Unknown keys are dropped, as a schema would.
 */

/** A value that is not what a pass of this release holds: what it must be, and where. */
class Unreadable extends Error {
  constructor(
    message: string,
    readonly at: string,
  ) {
    super(message);
  }
}

type Check<T> = (value: unknown, at: string) => T;

function rule<T>(isValid: (value: unknown) => value is T, message: string): Check<T> {
  return (value, at) => {
    if (!isValid(value)) throw new Unreadable(message, at);
    return value;
  };
}

const stamp = rule(
  (v): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  'must be an ISO 8601 time',
);
const isDay = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);
const isWholeFrom =
  (min: number) =>
  (v: unknown): v is number =>
    typeof v === 'number' && Number.isInteger(v) && v >= min;
const day = rule(isDay, 'must be a date as YYYY-MM-DD');
const count = rule(isWholeFrom(0), 'must be a whole number, 0 or more');
const url = rule((v): v is string => typeof v === 'string' && URL.canParse(v), 'must be an absolute URL');
const nextUrlOrNull: Check<string | null> = (v, at) => (v === null ? null : url(v, at));
const mode = rule(
  (v): v is PassState['mode'] => v === 'full' || v === 'incremental',
  'must be "full" or "incremental"',
);
const flag = rule((v): v is boolean => typeof v === 'boolean', 'must be true or false');
const versionNumber = rule(isWholeFrom(1), 'must be a whole number, 1 or more');

type Fields = Readonly<Record<string, unknown>>;

function fieldsOf(value: unknown, at: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Unreadable('must be an object', at);
  return Object.fromEntries(Object.entries(value));
}

/** `fields[key]` checked, or undefined when absent; `at` is where `fields` is. */
function optional<T>(fields: Fields, key: string, check: Check<T>, at: string): T | undefined {
  return fields[key] === undefined ? undefined : check(fields[key], at === '' ? key : `${at}.${key}`);
}

function required<T>(fields: Fields, key: string, check: Check<T>, at: string): T {
  const value = optional(fields, key, check, at);
  if (value === undefined) throw new Unreadable('is required', at === '' ? key : `${at}.${key}`);
  return value;
}

/** `value` without its undefined keys: an absent optional field stays absent. */
function present<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function stream(value: unknown, at: string): StreamState {
  const f = fieldsOf(value, at);
  return present({
    from: optional(f, 'from', day, at),
    to: optional(f, 'to', day, at),
    firstUrl: required(f, 'firstUrl', url, at),
    nextUrl: nextUrlOrNull(f.nextUrl, `${at}.nextUrl`),
    totalEntries: optional(f, 'totalEntries', count, at),
    restarts: optional(f, 'restarts', count, at),
    writtenSince: optional(f, 'writtenSince', stamp, at),
  });
}

const streamList: Check<StreamState[]> = (value, at) => {
  if (!Array.isArray(value) || value.length === 0)
    throw new Unreadable('must be a list of at least one stream', at);
  return value.map((s, i) => stream(s, `${at}.${i}`));
};

/** A stored pass of any version, as written (versioned or not); Unreadable names what is wrong. */
function readPass(value: unknown): PassState & { readonly version?: number; readonly firstDate?: string } {
  const f = fieldsOf(value, '');
  const pass = present({
    version: optional(f, 'version', versionNumber, ''),
    mode: required(f, 'mode', mode, ''),
    startedAt: required(f, 'startedAt', stamp, ''),
    streams: optional(f, 'streams', streamList, ''),
    nextUrl: optional(f, 'nextUrl', url, ''),
    sweepSince: optional(f, 'sweepSince', stamp, ''),
    writtenSince: optional(f, 'writtenSince', stamp, ''),
    totalEntries: optional(f, 'totalEntries', count, ''),
    noSweep: optional(f, 'noSweep', flag, ''),
    firstDate: optional(f, 'firstDate', day, ''),
  });
  if (pass.streams === undefined && pass.nextUrl === undefined)
    throw new Unreadable('has neither streams nor nextUrl', '');
  return pass;
}

/** The firstDate of what is kept between runs with no pass under way (version 3 on), else undefined. */
function keptFirstDate(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { version, firstDate, ...rest } = Object.fromEntries(Object.entries(value));
  return isWholeFrom(3)(version) && isDay(firstDate) && Object.keys(rest).length === 0
    ? firstDate
    : undefined;
}

/** The text stored for a pass: the current version, always with streams. */
export function serializePassState(pass: PassState): string {
  const streams = pass.streams ?? (pass.nextUrl ? [{ firstUrl: pass.nextUrl, nextUrl: pass.nextUrl }] : []);
  const { nextUrl: _legacy, ...rest } = pass;
  return JSON.stringify({ version: PASS_STATE_VERSION, ...rest, streams });
}

/**
 * What a destination stores in its state table's `pass` column for `state`: the pass under way
 * with the object's firstDate, the firstDate alone, or null (nothing to keep).
 */
export function serializeStoredPass(state: ObjectState): string | null {
  const kept = state.firstDate !== undefined ? { firstDate: state.firstDate } : {};
  if (state.pass !== null) return serializePassState({ ...state.pass, ...kept });
  return state.firstDate !== undefined ? JSON.stringify({ version: PASS_STATE_VERSION, ...kept }) : null;
}

/** The state-table row of an object as each engine reads it back (the inverse of serializeStoredPass). */
export function storedObjectState(object: string, row: StoredState, destination: string): ObjectState {
  const base = { object, cursor: row.cursor, lastFullPassAt: row.last_full_pass_at };
  if (row.pass === null || row.pass === undefined) return { ...base, pass: null };
  const json = typeof row.pass === 'string' && row.pass.startsWith('{') ? safeJson(row.pass) : row.pass;
  const kept = keptFirstDate(json);
  if (kept !== undefined) return { ...base, pass: null, firstDate: kept };
  const { pass, firstDate } = parseStoredPass(row.pass, { object, destination });
  return { ...base, pass, ...(firstDate !== undefined ? { firstDate } : {}) };
}

/** Whether a stored `pass` column holds a pass under way (not only what is kept between runs). */
export function isPassPending(stored: unknown): boolean {
  if (stored === null || stored === undefined) return false;
  const json = typeof stored === 'string' ? safeJson(stored) : stored;
  return keptFirstDate(json) === undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Parses a stored pass (any version this release knows; JSON text, or the value a JSON column gave
 * back), as one with streams. Throws StateError naming the object and the destination when it is
 * not a pass this release can resume.
 */
export function parsePassState(stored: unknown, where: { object: string; destination: string }): PassState {
  return parseStoredPass(stored, where).pass;
}

function parseStoredPass(
  stored: unknown,
  where: { object: string; destination: string },
): { pass: PassState; firstDate?: string } {
  const fail = (problem: string) =>
    new StateError(
      `the saved state of ${where.object} in ${where.destination} cannot be resumed: ${problem}; delete its row from _harvest_sync_state to start that object over`,
    );
  let json: unknown = stored;
  try {
    if (typeof stored === 'string') json = JSON.parse(stored);
  } catch {
    throw fail('it is not valid JSON');
  }
  let parsed: ReturnType<typeof readPass>;
  try {
    parsed = readPass(json);
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error;
    const at = error.at === '' ? '' : ` at ${error.at}`;
    throw fail(`it is not a state harvest-sync wrote (${error.message}${at})`);
  }
  const { version = 1, nextUrl, streams, firstDate, ...pass } = parsed;
  if (version > PASS_STATE_VERSION) {
    throw fail(
      `it was written by a newer harvest-sync (state version ${version}, this one reads up to ${PASS_STATE_VERSION})`,
    );
  }
  // version 1 before streams: the single stream at its next page
  const resumed = {
    ...pass,
    streams: streams ?? [{ firstUrl: nextUrl as string, nextUrl: nextUrl as string }],
  };
  return { pass: resumed, ...(firstDate !== undefined ? { firstDate } : {}) };
}

/** An object's row of `_harvest_sync_state` as read back (`pass` as the driver gives it). */
export interface StoredState {
  readonly cursor: string | null;
  readonly pass: unknown;
  readonly last_full_pass_at: string | null;
}

/** The values of a state row, in the order object, cursor, pass, last_full_pass_at. */
export function stateRowValues(state: ObjectState): [string, string | null, string | null, string | null] {
  return [state.object, state.cursor, serializeStoredPass(state), state.lastFullPassAt];
}
