import type { ObjectState, PassState, StreamState } from '../destinations/destination.js';
import type { PassMode } from './types.js';
import type { DateWindow } from './windows.js';

/*
 * A pass as the engine runs it (ActivePass) and as a destination keeps it (PassState), and the
 * pure functions between the two: the only place either is turned into the other.
 */

/** One stream of a pass (see StreamState): its committed position. */
export interface Stream {
  state: StreamState;
  /**
   * Distinct rows this attempt at the stream has stamped so far, as the destination counted them
   * while writing (TableCounts.fresh); undefined when unknown (a resumed stream, a destination that
   * does not count), and the end-of-list check then counts in the table.
   */
  written?: number;
}

/** A pass as the engine runs it: its persisted form plus what this run learnt while reading it. */
export interface ActivePass {
  readonly mode: PassMode;
  readonly resumed: boolean;
  /** Null until the first page of a new pass tells Harvest's time. */
  startedAt: string | null;
  readonly sweepSince: string | undefined;
  /** Destination time before the pass wrote anything (PassState.writtenSince). */
  readonly writtenSince: string | undefined;
  totalEntries: number | null;
  noSweep: boolean;
  /** Committed positions: a stream's entry changes only once the page that moves it is written. */
  streams: Stream[];
  /** A fresh full pass of a dated object: its first page decides whether the rest is read as windows. */
  mayWindow: boolean;
  /** The whole list's first page: where a windowed pass goes when Harvest ignores `from`/`to`. */
  readonly listUrl: string;
  /** Harvest's clock at the last page read in this run, if any. */
  serverTime: string | null;
  /**
   * Whether Harvest's list may have changed under the read: a stream's total_entries moved, or the
   * pass was resumed (what happened before is unknown). Decides whether unseen rows may be swept
   * without checking each (see MAX_CHECKED_UNSEEN).
   */
  changed: boolean;
}

/** A saved pass, resumed exactly as it was (same mode, start, sweep bound, each stream where it stood). */
export function resumePass(saved: PassState, listUrl: string): ActivePass {
  return {
    mode: saved.mode,
    resumed: true,
    startedAt: saved.startedAt,
    sweepSince: saved.sweepSince,
    writtenSince: saved.writtenSince,
    totalEntries: saved.totalEntries ?? null,
    noSweep: saved.noSweep === true,
    streams: (saved.streams ?? []).map((state) => ({ state })),
    mayWindow: false,
    listUrl,
    serverTime: null,
    changed: true,
  };
}

/** A new pass over `streams`, before its first page. */
export function newPass(init: {
  mode: PassMode;
  streams: readonly StreamState[];
  listUrl: string;
  writtenSince: string;
  sweeps: boolean;
  mayWindow: boolean;
}): ActivePass {
  return {
    mode: init.mode,
    resumed: false,
    startedAt: null,
    sweepSince: init.sweeps ? init.writtenSince : undefined,
    writtenSince: init.writtenSince,
    totalEntries: null,
    noSweep: false,
    streams: init.streams.map((state) => ({ state })),
    mayWindow: init.mayWindow,
    listUrl: init.listUrl,
    serverTime: null,
    changed: false,
  };
}

/** The saved form of a pass whose streams stand at `streams`. */
export function savedPass(pass: ActivePass, streams: readonly StreamState[], startedAt: string): PassState {
  return {
    mode: pass.mode,
    startedAt,
    streams,
    ...(pass.sweepSince !== undefined ? { sweepSince: pass.sweepSince } : {}),
    ...(pass.writtenSince !== undefined ? { writtenSince: pass.writtenSince } : {}),
    ...(pass.totalEntries !== null ? { totalEntries: pass.totalEntries } : {}),
    ...(pass.noSweep ? { noSweep: true } : {}),
  };
}

/**
 * The object's state written with a page: the streams' positions mid-pass; once `done`, no pass
 * and the new cursor. The cursor becomes the pass's start, not the newest updated_at seen: Harvest
 * lists by business date, so a record edited while the pass ran may sit on a page already read.
 */
export function stateAfter(step: {
  object: string;
  previous: ObjectState | null;
  pass: ActivePass;
  streams: readonly StreamState[];
  done: boolean;
  serverTime: string;
  /** A report's first date as this run knows it (probed, or kept); else the one kept before. */
  firstDate?: string;
}): ObjectState {
  const { object, previous, pass, serverTime } = step;
  const startedAt = pass.startedAt ?? serverTime;
  const firstDate = step.firstDate ?? previous?.firstDate;
  const kept = firstDate !== undefined ? { firstDate } : {};
  if (!step.done) {
    return {
      object,
      cursor: previous?.cursor ?? null,
      pass: savedPass(pass, step.streams, startedAt),
      lastFullPassAt: previous?.lastFullPassAt ?? null,
      ...kept,
    };
  }
  const swept = pass.sweepSince !== undefined && !pass.noSweep;
  return {
    object,
    cursor: startedAt,
    pass: null,
    lastFullPassAt: swept ? serverTime : (previous?.lastFullPassAt ?? null),
    ...kept,
  };
}

/** A stream moved on to `next` after a page; a page-numbered list's first total is kept. */
export function advanced(state: StreamState, next: string | null, total: number | null): StreamState {
  return {
    ...state,
    nextUrl: next,
    ...(state.totalEntries === undefined && total !== null ? { totalEntries: total } : {}),
  };
}

/** A stream sent back to its top: one more restart, rows of this attempt stamped from `writtenSince`. */
export function restarted(state: StreamState, writtenSince: string): StreamState {
  const { totalEntries: _total, ...rest } = state;
  return { ...rest, nextUrl: state.firstUrl, restarts: (state.restarts ?? 0) + 1, writtenSince };
}

/** The date window a stream reads, or undefined for a stream over the whole list. */
export function windowOf(state: StreamState): DateWindow | undefined {
  if (state.from === undefined && state.to === undefined) return undefined;
  return {
    ...(state.from !== undefined ? { from: state.from } : {}),
    ...(state.to !== undefined ? { to: state.to } : {}),
  };
}

/** A stream's count of written rows after a page that added `fresh` (unknown stays unknown). */
export function tallied(written: number | undefined, fresh: number | undefined): number | undefined {
  return written === undefined || fresh === undefined ? undefined : written + fresh;
}
