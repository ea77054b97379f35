import { describe, expect, it } from 'vitest';
import type { PassState, StreamState } from '../../src/destinations/destination.js';
import { countVerdict, shrinkVerdict } from '../../src/sync/drift.js';
import { MAX_STREAM_RESTARTS } from '../../src/sync/limits.js';
import {
  advanced,
  newPass,
  restarted,
  resumePass,
  savedPass,
  stateAfter,
  windowOf,
} from '../../src/sync/pass-state.js';
import { readJsonFixture } from '../support/fixtures.js';

const URL1 = 'https://api.harvestapp.com/v2/time_entries?per_page=2000';
const stream: StreamState = { firstUrl: URL1, nextUrl: `${URL1}&page=2`, totalEntries: 40 };

describe('pass state conversion', () => {
  it('resumes a saved pass and saves it back unchanged', () => {
    const row = readJsonFixture<{ pass: string }>('state/open-windows.state.json');
    const saved = JSON.parse(row.pass) as PassState;
    const pass = resumePass(saved, URL1);
    expect(pass).toMatchObject({ mode: 'full', resumed: true, mayWindow: false, changed: true });
    const streams = pass.streams.map((s) => s.state);
    expect(savedPass(pass, streams, pass.startedAt as string)).toEqual(saved);
  });

  it('starts a new pass with a sweep bound only when it sweeps', () => {
    const init = {
      mode: 'full' as const,
      streams: [stream],
      listUrl: URL1,
      writtenSince: '2026-01-01T00:00:00.000Z',
    };
    expect(newPass({ ...init, sweeps: true, mayWindow: true })).toMatchObject({
      resumed: false,
      startedAt: null,
      sweepSince: init.writtenSince,
      mayWindow: true,
      changed: false,
    });
    expect(newPass({ ...init, sweeps: false, mayWindow: false }).sweepSince).toBeUndefined();
  });

  it('writes positions mid-pass and the cursor (its start) once done', () => {
    const pass = newPass({
      mode: 'full',
      streams: [stream],
      listUrl: URL1,
      writtenSince: '2026-01-01T00:00:00.000Z',
      sweeps: true,
      mayWindow: false,
    });
    pass.startedAt = '2025-03-01T12:00:00.000Z';
    const previous = {
      object: 'time_entries',
      cursor: '2025-02-01T00:00:00.000Z',
      pass: null,
      lastFullPassAt: null,
    };
    const step = {
      object: 'time_entries',
      previous,
      pass,
      streams: [stream],
      serverTime: '2025-03-01T12:05:00.000Z',
    };
    const mid = stateAfter({ ...step, done: false });
    expect(mid).toMatchObject({ cursor: previous.cursor, lastFullPassAt: null });
    expect(mid.pass).toEqual({
      mode: 'full',
      startedAt: pass.startedAt,
      streams: [stream],
      sweepSince: '2026-01-01T00:00:00.000Z',
      writtenSince: '2026-01-01T00:00:00.000Z',
    });
    expect(stateAfter({ ...step, done: true })).toEqual({
      object: 'time_entries',
      cursor: pass.startedAt,
      pass: null,
      lastFullPassAt: step.serverTime,
    });
    // a pass that marked no deletions is not a full pass that swept
    pass.noSweep = true;
    expect(stateAfter({ ...step, done: true }).lastFullPassAt).toBeNull();
  });

  it('moves a stream on, or back to its top with one more restart', () => {
    expect(advanced({ firstUrl: URL1, nextUrl: URL1 }, `${URL1}&page=2`, 40)).toEqual(stream);
    expect(advanced(stream, null, 38)).toEqual({ ...stream, nextUrl: null });
    expect(restarted(stream, '2026-01-01T00:00:01.000Z')).toEqual({
      firstUrl: URL1,
      nextUrl: URL1,
      restarts: 1,
      writtenSince: '2026-01-01T00:00:01.000Z',
    });
    expect(windowOf(stream)).toBeUndefined();
    expect(windowOf({ ...stream, to: '2024-01-31' })).toEqual({ to: '2024-01-31' });
  });
});

describe('drift verdicts', () => {
  it('restart a stream whose list shrank or lost a record, until its restarts are spent', () => {
    expect(shrinkVerdict(stream, 40)).toBe('ok');
    expect(shrinkVerdict(stream, 41)).toBe('ok');
    expect(shrinkVerdict(stream, 39)).toBe('restart');
    expect(shrinkVerdict({ firstUrl: URL1, nextUrl: URL1 }, 3)).toBe('ok');
    expect(countVerdict(stream, 40, 40)).toBe('ok');
    expect(countVerdict(stream, 39, 40)).toBe('restart');
    const spent = { ...stream, restarts: MAX_STREAM_RESTARTS };
    expect(shrinkVerdict(spent, 39)).toBe('no-sweep');
    expect(countVerdict(spent, 39, 40)).toBe('no-sweep');
    expect(countVerdict(spent, 40, 40)).toBe('ok');
  });
});
