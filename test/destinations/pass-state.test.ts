import { describe, expect, it } from 'vitest';
import {
  PASS_STATE_VERSION,
  StateError,
  isPassPending,
  parsePassState,
  serializePassState,
  serializeStoredPass,
  storedObjectState,
} from '../../src/destinations/pass-state.js';
import type { PassState } from '../../src/destinations/destination.js';
import { readJsonFixture } from '../support/fixtures.js';

const where = { object: 'time_entries', destination: 'SQLite database at /tmp/replica.db' };
const URL1 = 'https://api.harvestapp.com/v2/time_entries?per_page=2000';

describe('saved pass states', () => {
  it.each(['bounded-windows', 'open-windows'])(
    'reads the unversioned state %s left as it was written',
    (release) => {
      const row = readJsonFixture<{ pass: string }>(`state/${release}.state.json`);
      const raw = JSON.parse(row.pass) as PassState;
      expect(parsePassState(row.pass, where)).toEqual(raw);
      // and from a JSON column (PostgreSQL gives the value back parsed)
      expect(parsePassState(raw, where)).toEqual(raw);
    },
  );

  it('reads the oldest form, a single nextUrl, as one stream at that page', () => {
    const old = { mode: 'incremental', startedAt: '2025-01-01T00:00:00Z', nextUrl: `${URL1}&page=3` };
    expect(parsePassState(JSON.stringify(old), where)).toEqual({
      mode: 'incremental',
      startedAt: '2025-01-01T00:00:00Z',
      streams: [{ firstUrl: `${URL1}&page=3`, nextUrl: `${URL1}&page=3` }],
    });
  });

  it('writes the current version, always with streams, and reads it back unchanged', () => {
    const pass: PassState = {
      mode: 'full',
      startedAt: '2025-03-01T12:01:00.000Z',
      streams: [
        { to: '2024-02-13', firstUrl: `${URL1}&to=2024-02-13`, nextUrl: null, totalEntries: 20 },
        { from: '2024-02-14', firstUrl: `${URL1}&from=2024-02-14`, nextUrl: `${URL1}&page=2`, restarts: 1 },
      ],
      sweepSince: '2026-11-28T10:18:32.300Z',
      writtenSince: '2026-11-28T10:18:32.300Z',
      totalEntries: 199,
      noSweep: true,
    };
    const text = serializePassState(pass);
    expect(JSON.parse(text)).toMatchObject({ version: PASS_STATE_VERSION });
    expect(parsePassState(text, where)).toEqual(pass);
  });

  it('keeps a report’s first date with its state, with or without a pass under way', () => {
    const base = { object: 'report_time_team', cursor: '2026-01-01T00:00:00Z', lastFullPassAt: null };
    const pass: PassState = {
      mode: 'incremental',
      startedAt: '2026-02-01T00:00:00Z',
      streams: [{ firstUrl: URL1, nextUrl: URL1 }],
    };
    for (const state of [
      { ...base, pass: null, firstDate: '2023-04-05' },
      { ...base, pass, firstDate: '2023-04-05' },
      { ...base, pass },
      { ...base, pass: null },
    ]) {
      const stored = serializeStoredPass(state);
      const row = { cursor: state.cursor, pass: stored, last_full_pass_at: null };
      expect(storedObjectState(state.object, row, 'db')).toEqual(state);
      // a JSON column gives the value back parsed
      const parsed = stored === null ? null : (JSON.parse(stored) as unknown);
      expect(storedObjectState(state.object, { ...row, pass: parsed }, 'db')).toEqual(state);
      expect(isPassPending(stored)).toBe(state.pass !== null);
    }
    expect(serializeStoredPass({ ...base, pass: null, firstDate: '2023-04-05' })).toBe(
      '{"version":3,"firstDate":"2023-04-05"}',
    );
  });

  it.each([
    ['{"mode":', /is not valid JSON/],
    ['{"mode":"sideways","startedAt":"2025-01-01T00:00:00Z","nextUrl":"https://x.test/v2/a"}', /at mode/],
    ['{"mode":"full","nextUrl":"https://x.test/v2/a"}', /at startedAt/],
    ['{"mode":"full","startedAt":"2025-01-01T00:00:00Z"}', /neither streams nor nextUrl/],
    [
      '{"mode":"full","startedAt":"2025-01-01T00:00:00Z","streams":[{"firstUrl":"https://x.test/v2/a","nextUrl":"page 2"}]}',
      /at streams\.0\.nextUrl/,
    ],
    [
      '{"version":4,"mode":"full","startedAt":"2025-01-01T00:00:00Z","streams":[{"firstUrl":"https://x.test/v2/a","nextUrl":null}]}',
      /written by a newer harvest-sync \(state version 4/,
    ],
  ])('refuses %s with a message naming the object, the destination and what to do', (text, problem) => {
    let error: unknown;
    try {
      parsePassState(text, where);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StateError);
    const message = (error as Error).message;
    expect(message).toMatch(problem);
    expect(message).toMatch(
      /^the saved state of time_entries in SQLite database at \/tmp\/replica\.db cannot be resumed/,
    );
    expect(message).toMatch(/delete its row from _harvest_sync_state/);
    expect(message).not.toMatch(/\n/);
  });
});
