import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { BOOKMARK_VERSION } from '../../src/connectors/state.js';
import { readFixture } from '../support/fixtures.js';
import { CLI, TAP_BIN, connectorWorld, runNode, simConfig } from './support.js';
import type { RunResult } from './support.js';
import { RELEASE_STATE } from './support/release-state.js';

/*
 * State the Singer tap and the Airbyte source wrote before bookmarks carried a version
 * (test/fixtures/connector-state/unversioned.json, captured partway through a first full read of
 * one stream by capture-release-state.ts) resumes with today's connectors exactly: the records the
 * old read had not emitted yet, each once, none emitted again, and a versioned bookmark at the end.
 */

interface Captured {
  readonly perPage: number;
  readonly singer: { readonly value: JsonObject; readonly emittedIds: number[] };
  readonly airbyte: { readonly state: JsonObject; readonly emittedIds: number[] };
}

const world = connectorWorld({ ...RELEASE_STATE.simulator });
const { stream } = RELEASE_STATE;

/** The fixture, pointing at this test's simulator. */
function captured(): Captured {
  return JSON.parse(
    readFixture('connector-state/unversioned.json').split('{{base_url}}').join(world.sim.url),
  );
}

const config = (perPage: number) =>
  world.files.file('config.json', simConfig(world.sim, { per_page: perPage }));

interface Protocol {
  readonly name: 'singer' | 'airbyte';
  run(perPage: number, state?: unknown): Promise<RunResult>;
  /** The state file's content, the ids emitted before it, and the stream's bookmark in it. */
  saved(fixture: Captured): { state: unknown; emittedIds: number[]; bookmark: JsonObject };
  /** The stream's records, in the order emitted. */
  records(messages: readonly JsonObject[]): JsonObject[];
  /** The stream's bookmark in the run's last STATE. */
  lastBookmark(messages: readonly JsonObject[]): JsonObject | undefined;
}

const singer: Protocol = {
  name: 'singer',
  run: (perPage, state) => {
    const catalog = world.files.file('singer-catalog.json', { streams: [RELEASE_STATE.singerEntry] });
    const args = ['--config', config(perPage), '--catalog', catalog];
    const statePath = state === undefined ? [] : ['--state', world.files.file('singer-state.json', state)];
    return runNode(TAP_BIN, [...args, ...statePath]);
  },
  saved: ({ singer: { value, emittedIds } }) => ({
    state: value,
    emittedIds,
    bookmark: (value.bookmarks as JsonObject)[stream] as JsonObject,
  }),
  records: (messages) =>
    messages.filter((m) => m.type === 'RECORD' && m.stream === stream).map((m) => m.record as JsonObject),
  lastBookmark: (messages) => {
    const value = messages.filter((m) => m.type === 'STATE').at(-1)?.value as JsonObject | undefined;
    return (value?.bookmarks as JsonObject | undefined)?.[stream] as JsonObject | undefined;
  },
};

const airbyte: Protocol = {
  name: 'airbyte',
  run: (perPage, state) => {
    const catalog = world.files.file('airbyte-catalog.json', { streams: [RELEASE_STATE.airbyteEntry] });
    const args = ['airbyte', 'read', '--config', config(perPage), '--catalog', catalog];
    const statePath = state === undefined ? [] : ['--state', world.files.file('airbyte-state.json', state)];
    return runNode(CLI, [...args, ...statePath]);
  },
  saved: ({ airbyte: { state, emittedIds } }) => ({
    state: [state],
    emittedIds,
    bookmark: (state.stream as JsonObject).stream_state as JsonObject,
  }),
  records: (messages) =>
    messages
      .filter((m) => m.type === 'RECORD' && (m.record as JsonObject).stream === stream)
      .map((m) => (m.record as JsonObject).data as JsonObject),
  lastBookmark: (messages) => {
    const state = messages.filter((m) => m.type === 'STATE').at(-1)?.state as JsonObject | undefined;
    return (state?.stream as JsonObject | undefined)?.stream_state as JsonObject | undefined;
  },
};

describe.each([singer, airbyte])('the $name connector given a state of the release before versions', (p) => {
  it('resumes the read where that state stood, each record once, and ends with a versioned bookmark', async () => {
    const fixture = captured();
    const { state, emittedIds, bookmark } = p.saved(fixture);
    expect(bookmark).not.toHaveProperty('version');
    const savedPass = bookmark.pass as JsonObject;
    expect((savedPass.streams as JsonObject[])[0].nextUrl).toEqual(expect.any(String));

    const clean = await p.run(fixture.perPage);
    expect(clean.code, clean.stderr).toBe(0);
    const all = p.records(clean.messages);
    expect(all.length).toBeGreaterThan(emittedIds.length);

    const resumed = await p.run(fixture.perPage, state);
    expect(resumed.code, resumed.stderr).toBe(0);
    const rest = p.records(resumed.messages);
    // what the old read emitted, then what the resumed one did: a clean read's records, none twice
    expect([...emittedIds, ...rest.map((r) => Number(r.id))].sort()).toEqual(
      all.map((r) => Number(r.id)).sort(),
    );
    const byId = new Map(all.map((r) => [Number(r.id), r]));
    for (const record of rest) expect(record).toEqual(byId.get(Number(record.id)));

    expect(p.lastBookmark(resumed.messages)).toMatchObject({
      version: BOOKMARK_VERSION,
      cursor: savedPass.startedAt,
      pass: null,
    });
  });
});
