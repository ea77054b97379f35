import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OBJECTS, hasCursor } from '../../src/catalog/objects.js';
import type { JsonObject } from '../../src/catalog/types.js';
import { applyRecords, expectSameAsSqlite, type Replica } from '../connectors/compare.js';
import {
  CLI,
  ProtocolValidator,
  REPO_ROOT,
  runNode,
  simConfig,
  type RunResult,
  connectorWorld,
  runFlags,
} from '../connectors/support.js';

/*
 * The Airbyte source as the platform runs it: `spec`, `check`, `discover` and `read` as real
 * processes against the simulator. Every message is checked against the Airbyte protocol's schemas,
 * every record against its stream's json_schema; the records equal what `harvest-sync run` writes.
 */

const validator = new ProtocolValidator();
const world = connectorWorld({ scale: 0.02, seed: 3 });

const config = (extra: JsonObject = {}) =>
  world.files.file('config.json', simConfig(world.sim, { per_page: 30, ...extra }));

function airbyte(...args: string[]): Promise<RunResult> {
  return runNode(CLI, ['airbyte', ...args]);
}

/** Every line is a valid AirbyteMessage; returns them. */
function checked(result: RunResult): JsonObject[] {
  expect(result.invalid).toEqual([]);
  for (const message of result.messages)
    validator.check('airbyte.schema.json#/definitions/AirbyteMessage', message);
  return result.messages;
}

async function discover(): Promise<JsonObject[]> {
  const result = await airbyte('discover', '--config', config());
  expect(result.code).toBe(0);
  return (checked(result)[0].catalog as { streams: JsonObject[] }).streams;
}

describe('harvest-sync airbyte', () => {
  it('spec: a connector specification whose form validates the config (token marked secret)', async () => {
    const result = await airbyte('spec');
    expect(result.code).toBe(0);
    const [message] = checked(result);
    const spec = message.spec as JsonObject;
    const form = spec.connectionSpecification as JsonObject;
    expect((form.properties as JsonObject).access_token).toMatchObject({ airbyte_secret: true });
    expect(form.required).toEqual(['access_token', 'account_id']);
    validator.checkAgainst(
      form,
      JSON.parse(readFileSync(config({ start_date: '2024-01-01' }), 'utf8')),
      'config',
    );
  });

  it('check: CONNECTION_STATUS SUCCEEDED for a good token, FAILED with Harvest’s reason for a wrong account', async () => {
    const good = await airbyte('check', '--config', config());
    expect(checked(good)).toEqual([
      { type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED', message: expect.any(String) } },
    ]);
    const wrong = world.files.file('wrong.json', simConfig(world.sim, { account_id: '424242' }));
    const failed = await airbyte('check', '--config', wrong);
    expect(failed.code).toBe(0);
    const [status] = checked(failed);
    expect(status.connectionStatus).toMatchObject({
      status: 'FAILED',
      message: expect.stringContaining('401'),
    });
  });

  it('discover: every catalog object, with sync modes, source-defined cursor and primary key', async () => {
    const streams = await discover();
    // every object, the reports too (the default set leaves them out; a configured catalog may pick them)
    expect(streams.map((s) => s.name)).toEqual(OBJECTS.map((o) => o.name));
    for (const stream of streams) {
      const spec = OBJECTS.find((o) => o.name === stream.name);
      expect(stream.source_defined_primary_key).toEqual([['id']]);
      // reports read their current window again: no cursor, full refresh to Airbyte
      const cursor = spec !== undefined && hasCursor(spec);
      expect(stream.supported_sync_modes).toEqual(
        cursor ? ['full_refresh', 'incremental'] : ['full_refresh'],
      );
      if (cursor)
        expect(stream).toMatchObject({ source_defined_cursor: true, default_cursor_field: ['updated_at'] });
    }
  });

  it('read: a full read, then an incremental one from its per-stream STATE, equal to what `run` writes to SQLite', async () => {
    const streams = await discover();
    const configured = {
      streams: streams.map((stream) => ({
        stream,
        sync_mode: (stream.supported_sync_modes as string[]).includes('incremental')
          ? 'incremental'
          : 'full_refresh',
        destination_sync_mode: 'append_dedup',
        ...(stream.default_cursor_field ? { cursor_field: stream.default_cursor_field } : {}),
        primary_key: [['id']],
      })),
    };
    validator.check('airbyte.schema.json#/definitions/ConfiguredAirbyteCatalog', configured);
    const catalog = world.files.file('configured.json', configured);
    const schemas = new Map(streams.map((s) => [s.name as string, s.json_schema as JsonObject]));
    const read = async (state?: unknown) => {
      const result = await airbyte(
        'read',
        '--config',
        config(),
        '--catalog',
        catalog,
        ...(state ? ['--state', world.files.file('state.json', state)] : []),
      );
      expect(result.code, result.stdout.slice(-500)).toBe(0);
      const messages = checked(result);
      const records = messages.filter((m) => m.type === 'RECORD').map((m) => m.record as JsonObject);
      for (const r of records)
        validator.checkAgainst(schemas.get(r.stream as string) as JsonObject, r.data, r.stream as string);
      const states = messages.filter((m) => m.type === 'STATE').map((m) => m.state as JsonObject);
      expect(states.every((s) => s.type === 'STREAM')).toBe(true);
      // every stream read ends with a state of its own, and COMPLETE
      const statuses = messages
        .filter((m) => m.type === 'TRACE')
        .map((m) => (m.trace as JsonObject).stream_status as JsonObject);
      expect(statuses.filter((s) => s.status === 'COMPLETE').length).toBe(streams.length);
      return {
        records: records.map((r) => ({ stream: r.stream as string, data: r.data as JsonObject })),
        states,
      };
    };
    const db = join(world.files.dir, 'run.db');
    const full = await read();
    const replica: Replica = applyRecords(new Map(), full.records);
    const run = await runNode(CLI, ['run', '--destination', `sqlite:${db}`, ...runFlags(world.sim)]);
    expect(run.code, run.stderr).toBe(0);
    expectSameAsSqlite(replica, db);

    const task = world.sim.records('tasks').next().value as JsonObject;
    world.sim.update('tasks', task.id as number, { name: 'Renamed between reads' });
    const latest = new Map(
      full.states.map((s) => [((s.stream as JsonObject).stream_descriptor as JsonObject).name, s]),
    );
    const incremental = await read([...latest.values()]);
    const byStream = (stream: string) => incremental.records.filter((r) => r.stream === stream);
    expect(byStream('tasks').map((r) => r.data.name)).toEqual(['Renamed between reads']);
    // no time entry changed: only the running timers (hours growing, updated_at staying) are read again
    const running = [...world.sim.records('time_entries')].filter((r) => r.is_running === true);
    expect(running.length).toBeGreaterThan(0);
    expect(byStream('time_entries').map((r) => r.data.id)).toEqual(running.map((r) => r.id));
    expect(byStream('roles').length).toBe([...world.sim.records('roles')].length);
    applyRecords(replica, incremental.records);
    const runAgain = await runNode(CLI, ['run', '--destination', `sqlite:${db}`, ...runFlags(world.sim)]);
    expect(runAgain.code, runAgain.stderr).toBe(0);
    expectSameAsSqlite(replica, db);
  });

  it('the Dockerfile: Airbyte labels and entrypoint; its ENTRYPOINT command answers spec', async () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/^LABEL io\.airbyte\.name=\S+$/m);
    expect(dockerfile).toContain(`LABEL io.airbyte.version=${version}`);
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    const env = /^ENV AIRBYTE_ENTRYPOINT="(.*)"$/m.exec(dockerfile)?.[1];
    expect(env).toBe(entrypoint.join(' '));
    // the image's WORKDIR is this repository as built here: run the very same command
    const [node, ...args] = entrypoint.map((a) => a.replace('/airbyte/integration_code/', REPO_ROOT));
    expect(node).toBe('node');
    const file = args.findIndex((a) => a.endsWith('.js'));
    const result = await runNode(args[file], [...args.slice(file + 1), 'spec'], {
      nodeFlags: args.slice(0, file),
    });
    expect(result.code).toBe(0);
    expect(checked(result).map((m) => m.type)).toEqual(['SPEC']);
  });
});
