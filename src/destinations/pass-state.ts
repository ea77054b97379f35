import { z } from 'zod';
import { DestinationError } from '../errors.js';
import type { ObjectState, PassState } from './destination.js';

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

const stamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time');
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD');
const count = z.number().int().nonnegative();

const streamSchema = z.object({
  from: day.optional(),
  to: day.optional(),
  firstUrl: z.url(),
  nextUrl: z.url().nullable(),
  totalEntries: count.optional(),
  restarts: count.optional(),
  writtenSince: stamp.optional(),
});

const passSchema = z
  .object({
    version: z.number().int().min(1).optional(),
    mode: z.enum(['full', 'incremental']),
    startedAt: stamp,
    streams: z.array(streamSchema).min(1).optional(),
    nextUrl: z.url().optional(),
    sweepSince: stamp.optional(),
    writtenSince: stamp.optional(),
    totalEntries: count.optional(),
    noSweep: z.boolean().optional(),
    firstDate: day.optional(),
  })
  .refine((p) => p.streams !== undefined || p.nextUrl !== undefined, 'has neither streams nor nextUrl');

/** What is kept between runs when no pass is under way (version 3 on). */
const keptSchema = z.object({ version: z.number().int().min(3), firstDate: day }).strict();

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
  const kept = keptSchema.safeParse(json);
  if (kept.success) return { ...base, pass: null, firstDate: kept.data.firstDate };
  const { pass, firstDate } = parseStoredPass(row.pass, { object, destination });
  return { ...base, pass, ...(firstDate !== undefined ? { firstDate } : {}) };
}

/** Whether a stored `pass` column holds a pass under way (not only what is kept between runs). */
export function isPassPending(stored: unknown): boolean {
  if (stored === null || stored === undefined) return false;
  const json = typeof stored === 'string' ? safeJson(stored) : stored;
  return !keptSchema.safeParse(json).success;
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
  const parsed = passSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw fail(`it is not a state harvest-sync wrote (${issue?.message ?? 'invalid'}${at})`);
  }
  const { version = 1, nextUrl, streams, firstDate, ...pass } = parsed.data;
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
