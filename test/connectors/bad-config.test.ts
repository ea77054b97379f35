import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import {
  CLI,
  ProtocolValidator,
  runNode,
  simConfig,
  STACK_LINE,
  TAP_BIN,
  connectorWorld,
} from './support.js';

/*
 * Bad input to the tap and the source ends in the protocol's own error form, one clear line and a
 * non-zero exit, never a stack trace or the token: a Singer CRITICAL log line on stderr (nothing on
 * stdout), an Airbyte TRACE ERROR message on stdout (and no record).
 */

const validator = new ProtocolValidator();
const world = connectorWorld({ scale: 0.01, seed: 2 });

type Mode = 'singer' | 'airbyte';

interface Case {
  readonly name: string;
  /** Paths of the config, catalog and state files (undefined: a good one, or none for state). */
  readonly files: (mode: Mode) => { config?: string; catalog?: string; state?: string };
  /** What the one-line message must say. */
  readonly says: RegExp;
  /** Failure type of the Airbyte TRACE. */
  readonly failure: string;
}

const good = () => world.files.file('good.json', simConfig(world.sim));
const CASES: readonly Case[] = [
  {
    name: 'a config without access_token',
    files: () => ({
      config: world.files.file('no-token.json', { account_id: world.sim.accountId, base_url: world.sim.url }),
    }),
    says: /access_token is required/,
    failure: 'config_error',
  },
  {
    name: 'an account the token does not belong to',
    files: () => ({
      config: world.files.file('wrong-account.json', simConfig(world.sim, { account_id: '424242' })),
    }),
    says: /rejected the access token \(401\).*account id/,
    failure: 'config_error',
  },
  {
    name: 'a config file that is not JSON (and holds the token)',
    files: () => ({ config: world.files.file('broken.json', `{"access_token": "${world.sim.adminToken}",`) }),
    says: /config file ".*broken\.json" is not valid JSON/,
    failure: 'config_error',
  },
  {
    name: 'a config file that does not exist',
    files: () => ({ config: `${world.files.dir}/missing.json` }),
    says: /cannot read the config file ".*missing\.json": no such file/,
    failure: 'config_error',
  },
  {
    name: 'a catalog file that is not JSON',
    files: () => ({ config: good(), catalog: world.files.file('catalog-broken.json', '{"streams": [') }),
    says: /catalog file ".*catalog-broken\.json" is not valid JSON/,
    failure: 'config_error',
  },
  {
    name: 'a catalog naming an unknown stream',
    files: (mode) => ({
      config: good(),
      catalog: world.files.file('catalog-unknown.json', catalogOf('payslips', mode)),
    }),
    says: /unknown stream "payslips"; streams: clients/,
    failure: 'config_error',
  },
  {
    name: 'a state file that is not JSON',
    files: () => ({ config: good(), state: world.files.file('state-broken.json', '[{"type": "STREAM"') }),
    says: /state file ".*state-broken\.json" is not valid JSON/,
    failure: 'config_error',
  },
  {
    name: 'a state this connector did not write',
    files: () => ({ config: good(), state: world.files.file('state-alien.json', alienState()) }),
    says: /state of stream clients is not one this connector wrote at pass\.mode/,
    failure: 'config_error',
  },
  {
    name: 'a state written by a newer harvest-sync (a future state version)',
    files: () => ({ config: good(), state: world.files.file('state-future.json', versionedState(99)) }),
    says: /state of stream clients was written by a newer harvest-sync \(state version 99, this one reads up to 2\)/,
    failure: 'config_error',
  },
  {
    name: 'a state whose version is not a version',
    files: () => ({ config: good(), state: world.files.file('state-bad-version.json', versionedState('2')) }),
    says: /state of stream clients is not one this connector wrote at version/,
    failure: 'config_error',
  },
];

/** A clients position in today's shape but for its version, as either protocol passes it. */
function versionedState(version: unknown): unknown {
  return { bookmarks: { clients: { version, cursor: null, lastFullPassAt: null, pass: null } } };
}

/** A catalog selecting `stream`: a Singer catalog, or an Airbyte configured catalog. */
function catalogOf(stream: string, mode: Mode): JsonObject {
  const entry: JsonObject =
    mode === 'singer'
      ? {
          tap_stream_id: stream,
          schema: { type: 'object', properties: {} },
          metadata: [{ breadcrumb: [], metadata: { selected: true } }],
        }
      : {
          stream: { name: stream, json_schema: {}, supported_sync_modes: ['full_refresh'] },
          sync_mode: 'full_refresh',
          destination_sync_mode: 'overwrite',
        };
  return { streams: [entry] };
}

/** A state holding a clients position of the wrong shape, as either protocol passes it. */
function alienState(): unknown {
  return { bookmarks: { clients: { cursor: null, pass: { mode: 'sideways', startedAt: 'now' } } } };
}

function clean(output: string): void {
  expect(output).not.toMatch(STACK_LINE);
  expect(output).not.toContain(world.sim.adminToken);
}

describe('bad configuration, catalog or state', () => {
  it.each(CASES)(
    'the Singer tap: $name → a CRITICAL line on stderr, nothing on stdout, exit non-zero',
    async (c) => {
      const f = c.files('singer');
      const args = ['--config', f.config ?? good(), ...(f.catalog ? ['--catalog', f.catalog] : [])];
      const result = await runNode(TAP_BIN, [...args, ...(f.state ? ['--state', f.state] : [])]);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^CRITICAL /);
      expect(lines.at(-1)).toMatch(c.says);
      clean(result.stderr);
    },
  );

  it.each(CASES)(
    'the Airbyte source: $name → a TRACE ERROR on stdout, no record, exit non-zero',
    async (c) => {
      const f = c.files('airbyte');
      const catalog = f.catalog ?? world.files.file('catalog-good.json', catalogOf('clients', 'airbyte'));
      const args = ['airbyte', 'read', '--config', f.config ?? good(), '--catalog', catalog];
      const result = await runNode(CLI, [...args, ...(f.state ? ['--state', f.state] : [])]);
      expect(result.code).not.toBe(0);
      expect(result.invalid).toEqual([]);
      expect(result.messages.map((m) => m.type)).toEqual(['TRACE']);
      const [trace] = result.messages;
      validator.check('airbyte.schema.json#/definitions/AirbyteMessage', trace);
      const error = (trace.trace as JsonObject).error as JsonObject;
      expect(error.message).toMatch(c.says);
      expect(error.failure_type).toBe(c.failure);
      clean(result.stdout + result.stderr);
    },
  );

  it('the Airbyte source: usage errors are TRACE messages too; check reports a bad config as FAILED', async () => {
    const usage = await runNode(CLI, ['airbyte', 'read', '--config']);
    expect(usage.code).not.toBe(0);
    expect((usage.messages[0].trace as JsonObject).error).toMatchObject({ failure_type: 'config_error' });
    const check = await runNode(CLI, [
      'airbyte',
      'check',
      '--config',
      world.files.file('no-token.json', { account_id: '1' }),
    ]);
    expect(check.messages).toEqual([
      {
        type: 'CONNECTION_STATUS',
        connectionStatus: { status: 'FAILED', message: expect.stringMatching(/access_token is required/) },
      },
    ]);
  });
});
