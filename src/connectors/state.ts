import { z } from 'zod';
import type { ObjectState, PassState, StreamState } from '../destinations/destination.js';
import { ConfigError } from '../errors.js';
import type { CountKey } from '../destinations/sqlite/written-ledger.js';

/**
 * One stream's resume position, as the tap's STATE (`bookmarks.<stream>`) and the source's
 * per-stream STATE (`stream_state`) carry it: the engine's own ObjectState (cursor, and the pass
 * under way with each of its streams or date windows where it stands), plus
 * - `written` on each stream of a pass: how many distinct records that stream attempt emitted, so a
 *   resumed read keeps Destination.countWritten right (see written-ledger.ts);
 * - `activeVersion`: the table version of the last full pass whose ACTIVATE_VERSION was emitted (Singer);
 * - `firstDate` (reports): the account's first date (ObjectState.firstDate), so a later read starts
 *   its windows there without probing for it again.
 */
export interface Bookmark {
  /** Set on the bookmarks this release emits (BOOKMARK_VERSION); parseBookmark leaves it out. */
  readonly version?: number;
  readonly cursor: string | null;
  readonly lastFullPassAt: string | null;
  readonly pass: PassState | null;
  readonly activeVersion?: number;
  readonly firstDate?: string;
}

/**
 * The version of the bookmarks this release writes, so that a state handed back is read as it was
 * written, and one from a newer harvest-sync is refused rather than misread. Versions:
 * - 1 (no `version` field): written before bookmarks were versioned; read as it was written.
 * - 2: as 1, carrying `version`; a report's may carry `firstDate`. Not a new version: a reader
 *   without it drops the key (zod's default) and probes for the date, so nothing is misread.
 */
export const BOOKMARK_VERSION = 2;

const stamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time');

const streamSchema = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  firstUrl: z.string(),
  nextUrl: z.string().nullable(),
  totalEntries: z.number().int().nonnegative().optional(),
  restarts: z.number().int().nonnegative().optional(),
  writtenSince: stamp.optional(),
  written: z.number().int().nonnegative().optional(),
});

const passSchema = z.object({
  mode: z.enum(['full', 'incremental']),
  startedAt: stamp,
  streams: z.array(streamSchema).optional(),
  nextUrl: z.string().optional(),
  sweepSince: stamp.optional(),
  writtenSince: stamp.optional(),
  totalEntries: z.number().int().nonnegative().optional(),
  noSweep: z.boolean().optional(),
});

const bookmarkSchema = z.object({
  version: z.number().int().min(1).optional(),
  cursor: stamp.nullable().default(null),
  lastFullPassAt: stamp.nullable().default(null),
  pass: passSchema.nullable().default(null),
  activeVersion: z.number().int().nonnegative().optional(),
  firstDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
    .optional(),
});

/** Validates one stream's saved position; a ConfigError names the stream and the problem. */
export function parseBookmark(stream: string, value: unknown): Bookmark {
  // checked first: a newer release may have changed the rest of the shape too
  const version = typeof value === 'object' && value !== null ? (value as { version?: unknown }).version : 1;
  if (typeof version === 'number' && version > BOOKMARK_VERSION) {
    throw new ConfigError(
      `the state of stream ${stream} was written by a newer harvest-sync (state version ${version}, this one reads up to ${BOOKMARK_VERSION}); upgrade harvest-sync, or reset the stream's state to read it from the start`,
    );
  }
  const parsed = bookmarkSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new ConfigError(
      `the state of stream ${stream} is not one this connector wrote${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const { version: _version, ...bookmark } = parsed.data;
  return bookmark as Bookmark;
}

/** The stream attempt a stream of a pass counts for (see Destination.countWritten). */
export function countKeyOf(pass: PassState, stream: StreamState): CountKey | null {
  const since = stream.writtenSince ?? pass.writtenSince;
  if (since === undefined) return null;
  return {
    since,
    ...(stream.from !== undefined && stream.to !== undefined ? { from: stream.from, to: stream.to } : {}),
  };
}

/** The engine's view of a bookmark, without the counts (kept apart, see WrittenLedger.seed). */
export function objectStateOf(object: string, bookmark: Bookmark): ObjectState {
  const pass = bookmark.pass;
  return {
    object,
    cursor: bookmark.cursor,
    lastFullPassAt: bookmark.lastFullPassAt,
    pass: pass && {
      ...pass,
      ...(pass.streams ? { streams: pass.streams.map(({ written: _w, ...s }: WithCount) => s) } : {}),
    },
    ...(bookmark.firstDate !== undefined ? { firstDate: bookmark.firstDate } : {}),
  };
}

type WithCount = StreamState & { readonly written?: number };

/** The bookmark to emit after a batch: the engine's state, each stream with its current count. */
export function bookmarkOf(
  state: ObjectState,
  countOf: (key: CountKey) => number | undefined,
  activeVersion: number | undefined,
): Bookmark {
  const pass = state.pass;
  const streams = pass?.streams?.map((s): WithCount => {
    const key = countKeyOf(pass, s);
    const n = key ? countOf(key) : undefined;
    return n === undefined ? s : { ...s, written: n };
  });
  return {
    version: BOOKMARK_VERSION,
    cursor: state.cursor,
    lastFullPassAt: state.lastFullPassAt,
    pass: pass && (streams ? { ...pass, streams } : pass),
    ...(activeVersion !== undefined ? { activeVersion } : {}),
    ...(state.firstDate !== undefined ? { firstDate: state.firstDate } : {}),
  };
}

/** The count each stream of a saved pass carries, to seed the ledger of a resumed read. */
export function savedCounts(bookmark: Bookmark): Array<{ key: CountKey; n: number }> {
  const pass = bookmark.pass;
  if (!pass?.streams) return [];
  const out: Array<{ key: CountKey; n: number }> = [];
  for (const stream of pass.streams as readonly WithCount[]) {
    const key = countKeyOf(pass, stream);
    if (key && stream.written !== undefined) out.push({ key, n: stream.written });
  }
  return out;
}

/**
 * The latest of our own stamps a bookmark holds (sweep and count bounds, table version), as epoch
 * ms: a resumed read stamps and versions later than all of them.
 */
export function latestStamp(bookmark: Bookmark): number {
  const pass = bookmark.pass;
  const times = [pass?.sweepSince, pass?.writtenSince, ...(pass?.streams ?? []).map((s) => s.writtenSince)];
  const ms = times.map((t) => (t ? Date.parse(t) : 0)).filter((t) => !Number.isNaN(t));
  return Math.max(0, bookmark.activeVersion ?? 0, ...ms);
}

/**
 * Every stream's bookmark, as a read goes: those of the streams it reads (validated up front, so a
 * bad state file stops the read before it emits anything) and, kept verbatim, those of streams it
 * does not read this time (a Singer STATE value is the whole state).
 */
export class StateBook {
  private readonly entries = new Map<string, unknown>();
  private readonly parsed = new Map<string, Bookmark>();

  constructor(initial: Readonly<Record<string, unknown>>, streams: readonly string[]) {
    for (const [stream, value] of Object.entries(initial)) this.entries.set(stream, value);
    for (const stream of streams) {
      const value = this.entries.get(stream);
      if (value !== undefined && value !== null) this.parsed.set(stream, parseBookmark(stream, value));
    }
  }

  get(stream: string): Bookmark | null {
    return this.parsed.get(stream) ?? null;
  }

  set(stream: string, bookmark: Bookmark): void {
    this.parsed.set(stream, bookmark);
    this.entries.set(stream, bookmark);
  }

  /** Every stream's bookmark, for a state that carries them all. */
  all(): Record<string, unknown> {
    return Object.fromEntries(this.entries);
  }

  /** The latest of our stamps in any bookmark read (see latestStamp). */
  latestStamp(): number {
    return Math.max(0, ...[...this.parsed.values()].map(latestStamp));
  }
}
