import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { BOOKMARK_VERSION } from '../../src/connectors/state.js';
import { FIRST_DATE_CALLS } from '../../src/sync/reports.js';
import { CLI, TAP_BIN, connectorWorld, runNode, simConfig } from './support.js';
import type { RunResult } from './support.js';

/*
 * The reports' first date (the account's earliest date, found by a probe of FIRST_DATE_CALLS
 * requests) travels in the Singer bookmarks and the Airbyte stream state, as it does in a
 * database's pass state: a connector's read given the state of the one before makes no probe.
 * (Reports have no cursor field: the connectors read them FULL_TABLE / full_refresh, every window
 * each time, so the probe is all the kept date saves; a state cleared, as for a reset, probes again.)
 */

// the account's history reaches today: every window has rows, so each read emits a STATE
const world = connectorWorld({ scale: 0.01, seed: 5, epoch: new Date().toISOString() });
const REPORTS = ['report_time_clients', 'report_expenses_categories'];

/** Requests the simulator answered, by the `/_simulator/counters` route, and zeroed after. */
async function takeCounters(): Promise<{ total: number; byPath: Record<string, number> }> {
  const headers = { Authorization: `Bearer ${world.sim.adminToken}` };
  const res = await fetch(`${world.sim.url}/_simulator/counters`, { headers });
  const counters = (await res.json()) as { total: number; byPath: Record<string, number> };
  await fetch(`${world.sim.url}/_simulator/counters/reset`, { method: 'POST', headers });
  return counters;
}

/** The first-date probe reads time entries and expenses; the reports read their own paths. */
const probes = (byPath: Record<string, number>) =>
  (byPath['/v2/time_entries'] ?? 0) + (byPath['/v2/expenses'] ?? 0);

interface Protocol {
  readonly name: string;
  run(state?: unknown): Promise<RunResult>;
  /** The state to hand the next read, from this one's STATE messages. */
  nextState(messages: readonly JsonObject[]): unknown;
  /** Each report's bookmark in that state. */
  bookmarks(state: unknown): JsonObject[];
}

const config = () => world.files.file('config.json', simConfig(world.sim, { per_page: 2000 }));

const singer: Protocol = {
  name: 'singer',
  run: (state) => {
    const streams = REPORTS.map((name) => ({
      tap_stream_id: name,
      schema: { type: 'object', properties: {} },
      metadata: [{ breadcrumb: [], metadata: { selected: true } }],
    }));
    const catalog = world.files.file('singer-catalog.json', { streams });
    const statePath = state === undefined ? [] : ['--state', world.files.file('singer-state.json', state)];
    return runNode(TAP_BIN, ['--config', config(), '--catalog', catalog, ...statePath]);
  },
  nextState: (messages) => messages.filter((m) => m.type === 'STATE').at(-1)?.value,
  bookmarks: (state) =>
    REPORTS.map((name) => ((state as JsonObject).bookmarks as JsonObject)[name] as JsonObject),
};

const airbyte: Protocol = {
  name: 'airbyte',
  run: (state) => {
    const streams = REPORTS.map((name) => ({
      stream: { name, json_schema: {}, supported_sync_modes: ['full_refresh', 'incremental'] },
      sync_mode: 'incremental',
      destination_sync_mode: 'append_dedup',
    }));
    const catalog = world.files.file('airbyte-catalog.json', { streams });
    const statePath = state === undefined ? [] : ['--state', world.files.file('airbyte-state.json', state)];
    return runNode(CLI, ['airbyte', 'read', '--config', config(), '--catalog', catalog, ...statePath]);
  },
  // each stream's last STATE, as the platform keeps them
  nextState: (messages) => {
    const last = new Map<string, JsonObject>();
    for (const m of messages.filter((m) => m.type === 'STATE')) {
      const state = m.state as JsonObject;
      last.set(((state.stream as JsonObject).stream_descriptor as JsonObject).name as string, state);
    }
    return [...last.values()];
  },
  bookmarks: (state) =>
    REPORTS.map((name) => {
      const found = (state as JsonObject[]).find(
        (s) => ((s.stream as JsonObject).stream_descriptor as JsonObject).name === name,
      );
      return (found?.stream as JsonObject | undefined)?.stream_state as JsonObject;
    }),
};

describe.each([singer, airbyte])('the $name connector and the reports’ first date', (p) => {
  it('keeps it in each report’s state: the next read makes no probe', async () => {
    await takeCounters();
    const first = await p.run();
    expect(first.code, first.stderr).toBe(0);
    const before = await takeCounters();
    expect(probes(before.byPath)).toBe(FIRST_DATE_CALLS);
    const state = p.nextState(first.messages);
    const bookmarks = p.bookmarks(state);
    const firstDate = bookmarks[0]?.firstDate;
    expect(firstDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const bookmark of bookmarks)
      expect(bookmark).toMatchObject({ version: BOOKMARK_VERSION, pass: null, firstDate });

    const second = await p.run(state);
    expect(second.code, second.stderr).toBe(0);
    const counters = await takeCounters();
    expect(probes(counters.byPath)).toBe(0);
    // the token check, then each report's current window: one page each
    // the same token check and windows as the first read, and nothing else
    expect(counters.total).toBe(before.total - FIRST_DATE_CALLS);
    for (const bookmark of p.bookmarks(p.nextState(second.messages)))
      expect(bookmark).toMatchObject({ firstDate });
  });
});
