import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { JsonObject } from '../../src/catalog/types.js';
import {
  CLI,
  runNode,
  simConfig,
  TAP_BIN,
  type RunOptions,
  type RunResult,
  connectorWorld,
} from './support.js';

/*
 * Kill -9 at sampled points of a read (mid-batch and right after a STATE), resume each time from
 * the last STATE the killed process wrote, as Meltano and Airbyte do: the union of every record
 * emitted equals one clean read, and each kill costs at most the one page it cut short.
 */

const PER_PAGE = 20;
/** Where each read of the chain is killed: after its Nth RECORD (mid-batch) or its Nth STATE. */
const KILLS: ReadonlyArray<{ readonly type: 'RECORD' | 'STATE'; readonly count: number }> = [
  { type: 'RECORD', count: 7 },
  { type: 'STATE', count: 6 },
  { type: 'RECORD', count: 41 },
  { type: 'STATE', count: 3 },
  { type: 'RECORD', count: 23 },
];
/** Streams read in full by every run (no updated_since): re-read after a resume by design. */
const FULL_TABLE = new Set(DEFAULT_OBJECTS.filter((o) => !o.incremental).map((o) => o.name));

interface Emitted {
  readonly stream: string;
  readonly data: JsonObject;
}

/** How one protocol is run, and where its records and resume state are in its messages. */
interface Mode {
  readonly name: string;
  run(statePath: string | undefined, options?: RunOptions): Promise<RunResult>;
  records(messages: readonly JsonObject[]): Emitted[];
  /** The state file to resume with, from the previous one and a run's messages. */
  nextState(previous: unknown, messages: readonly JsonObject[]): unknown;
}

const world = connectorWorld({ scale: 0.03, seed: 5 });

const config = () =>
  world.files.file('config.json', simConfig(world.sim, { per_page: PER_PAGE, concurrency: 3 }));

const singer: Mode = {
  name: 'Singer tap',
  run: (state, options) =>
    runNode(TAP_BIN, ['--config', config(), ...(state ? ['--state', state] : [])], options),
  records: (messages) =>
    messages
      .filter((m) => m.type === 'RECORD')
      .map((m) => ({ stream: m.stream as string, data: m.record as JsonObject })),
  nextState: (previous, messages) => messages.filter((m) => m.type === 'STATE').at(-1)?.value ?? previous,
};

const airbyte: Mode = {
  name: 'Airbyte source',
  run: (state, options) => {
    const catalog = world.files.file('configured.json', {
      streams: DEFAULT_OBJECTS.map((o) => ({
        stream: { name: o.name, json_schema: {}, supported_sync_modes: ['full_refresh', 'incremental'] },
        sync_mode: o.incremental ? 'incremental' : 'full_refresh',
        destination_sync_mode: 'append_dedup',
      })),
    });
    const args = ['airbyte', 'read', '--config', config(), '--catalog', catalog];
    return runNode(CLI, [...args, ...(state ? ['--state', state] : [])], options);
  },
  records: (messages) =>
    messages
      .filter((m) => m.type === 'RECORD')
      .map((m) => {
        const record = m.record as JsonObject;
        return { stream: record.stream as string, data: record.data as JsonObject };
      }),
  // the platform keeps the latest STATE of each stream and passes them all back
  nextState: (previous, messages) => {
    const byStream = new Map<string, JsonObject>();
    for (const state of (previous ?? []) as JsonObject[]) byStream.set(streamOf(state), state);
    for (const m of messages)
      if (m.type === 'STATE') byStream.set(streamOf(m.state as JsonObject), m.state as JsonObject);
    return [...byStream.values()];
  },
};

function streamOf(state: JsonObject): string {
  return ((state.stream as JsonObject).stream_descriptor as JsonObject).name as string;
}

const key = (r: Emitted) => `${r.stream}:${String(r.data.id)}`;

describe.each([singer, airbyte])('$name killed with SIGKILL and resumed from its last STATE', (mode) => {
  it('emits every record of a clean read, repeating at most the page each kill cut short', async () => {
    const clean = await mode.run(undefined);
    expect(clean.code, clean.stderr).toBe(0);
    const expected = new Map(mode.records(clean.messages).map((r) => [key(r), r.data]));
    expect(expected.size).toBe(mode.records(clean.messages).length);

    const emitted: Emitted[] = [];
    let state: unknown;
    let kills = 0;
    let cutShort = 0;
    for (const [i, point] of KILLS.entries()) {
      const statePath = state === undefined ? undefined : world.files.file(`state-${i}.json`, state);
      const run = await mode.run(statePath, {
        killAfter: { count: point.count, match: (m) => m.type === point.type },
      });
      const records = mode.records(run.messages);
      emitted.push(...records);
      state = mode.nextState(state, run.messages);
      if (run.signal !== 'SIGKILL') break;
      kills++;
      // what the killed process wrote after its last STATE is at most one batch (one page)
      const lastState = run.messages.findLastIndex((m) => m.type === 'STATE');
      const tail = mode.records(run.messages.slice(lastState + 1));
      expect(tail.length, `records after the last STATE of run ${i + 1}`).toBeLessThanOrEqual(PER_PAGE);
      cutShort += tail.filter((r) => !FULL_TABLE.has(r.stream)).length;
    }
    expect(kills).toBeGreaterThanOrEqual(4);
    const last = await mode.run(world.files.file('state-final.json', state));
    expect(last.code, last.stderr).toBe(0);
    emitted.push(...mode.records(last.messages));

    const union = new Map(emitted.map((r) => [key(r), r.data]));
    expect([...union.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, data] of union) expect(data, id).toEqual(expected.get(id));
    const repeatable = emitted.filter((r) => !FULL_TABLE.has(r.stream));
    const repeated = repeatable.length - new Set(repeatable.map(key)).size;
    // only what each kill cut short (records after the last STATE it delivered) is emitted again
    expect(repeated).toBeLessThanOrEqual(cutShort);
    expect(cutShort).toBeLessThanOrEqual(kills * PER_PAGE);
  });
});
