import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { SERVER_ENGINES } from '../destinations/server-engines.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { runCli, type CliResult } from './cli-helpers.js';

/*
 * What the CLI loads before it refuses bad input or sends its first request (issue 16): each module
 * costs start-up time, and zod alone cost more than the rest. A loader hook records every module the
 * real process loads; the test fails when a heavy one slips back onto the path. Not timed:
 * `npm run bench:start` measures the time.
 */

/**
 * Node options that append to `file`, one a line, the URL of every ES module the process loads
 * (a loader hook) and, at exit, the path of every CommonJS module it required (commander and
 * better-sqlite3 are loaded with require(), which Node 20's loader hooks do not see).
 */
function recordingLoads(file: string): string[] {
  const hooks = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(file)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register, createRequire } from 'node:module'; import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
const cache = createRequire(${JSON.stringify(file)}).cache;
process.on('exit', () => appendFileSync(${JSON.stringify(file)}, Object.keys(cache).join('\\n') + '\\n'));`;
  return ['--import', `data:text/javascript,${encodeURIComponent(register)}`];
}

/** Packages no `run` into SQLite needs: zod, the server, the control store's queue, other engines' drivers. */
const NEVER_ON_RUN = [
  'zod',
  'hono',
  '@hono/node-server',
  'pg',
  'pg-boss',
  'pg-copy-streams',
  'mysql2',
  'pino',
  'prom-client',
];
/** Our own areas no `run` needs. */
const NEVER_OURS = [
  'server',
  'web',
  'control',
  'simulator',
  'singer',
  'airbyte',
  'connectors',
  'schema-fields.js',
];

/**
 * What a run loads of the engines its destination URL does not name: the modules that read URLs
 * (to tell which engine a URL names), nothing of their driver, Destination class or access.
 */
function otherEngines(ours: readonly string[], used: string): string[] {
  return ours.filter(
    (m) =>
      /^destinations\/(sqlite|postgres|mysql)\//.test(m) &&
      !m.startsWith(`destinations/${used}/`) &&
      !/-(engine|url|path)\.js$/.test(m),
  );
}

let dir: { dir: string; cleanup: () => void };
let sim: Simulator;
let runs = 0;

beforeAll(async () => {
  dir = tempDir();
  sim = await startSimulator({ scale: 0.01, seed: 3, rateLimit: null, timersGrow: false });
});
afterAll(async () => {
  await sim.stop();
  dir.cleanup();
});

/** Runs the built CLI with `args` and `env`; its result and the modules it loaded. */
async function runRecorded(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const file = join(dir.dir, `loads-${++runs}.txt`);
  const result: CliResult = await runCli(args, { ...env, NODE_OPTIONS: recordingLoads(file).join(' ') }, cwd);
  const loaded = readFileSync(file, 'utf8').trim().split('\n');
  const packages = new Set(
    loaded.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []),
  );
  const ours = loaded.flatMap((url) => /\/dist\/(.+)$/.exec(url)?.[1] ?? []);
  const builtins = loaded.filter((url) => url.startsWith('node:'));
  return { result, packages, ours, builtins };
}

const BAD_INPUT: Record<string, string[]> = {
  'a bad number': ['run', '--per-page', 'abc', '--token', 't', '--account-id', '1'],
  'an unknown object': ['run', '--objects', 'nope', '--token', 't', '--account-id', '1'],
  'no token': ['run', '--account-id', '1'],
  'a bad since': ['run', '--since', '2024-02-30', '--token', 't', '--account-id', '1'],
  'a bad base URL': ['run', '--base-url', 'ftp://x', '--token', 't', '--account-id', '1'],
  'a bad rate limit': ['run', '--rate-limit', '0/1', '--token', 't', '--account-id', '1'],
};

describe('the start of `run` (a real process, every module it loads recorded)', () => {
  it.each(Object.entries(BAD_INPUT))(
    'refuses %s with one line before loading zod, the engine or any destination',
    async (_, args) => {
      const { result, packages, ours } = await runRecorded(args);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      // the hook saw the CLI itself: an empty record cannot pass
      expect(ours).toContain('cli/commands/run.js');
      expect(packages).toContain('commander');
      expect([...packages].filter((p) => NEVER_ON_RUN.includes(p))).toEqual([]);
      expect(packages).not.toContain('better-sqlite3');
      // the engine and the destinations load once the flags are good (sync/plan.js is the catalog's list)
      const engine = ours.filter(
        (m) => m.startsWith('destinations/') || ['sync/engine.js', 'cli/sync-job.js'].includes(m),
      );
      expect(engine).toEqual([]);
    },
  );

  it('reaches Harvest and syncs into SQLite without the server, the control store or other drivers', async () => {
    const { result, packages, ours, builtins } = await runRecorded(
      ['run', '--objects', 'clients', '--destination', `sqlite:${join(dir.dir, 'run.db')}`, '--json'],
      { HARVEST_ACCESS_TOKEN: sim.adminToken, HARVEST_ACCOUNT_ID: sim.accountId, HARVEST_BASE_URL: sim.url },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'succeeded' });
    expect(packages).toContain('better-sqlite3');
    expect(ours).toContain('sync/engine.js');
    expect(ours).toContain('destinations/sqlite/sqlite-access.js');
    expect([...packages].filter((p) => NEVER_ON_RUN.includes(p))).toEqual([]);
    expect(ours.filter((m) => NEVER_OURS.includes(m.split('/')[0]))).toEqual([]);
    // requests go through node:http; TLS loads only for an https API root
    expect(builtins).toContain('node:http');
    expect(builtins).not.toContain('node:https');
    expect(otherEngines(ours, 'sqlite')).toEqual([]);
    // the whole destinations module loads every engine: a run imports what reads URLs instead
    expect(ours).not.toContain('destinations/index.js');
  });

  it.each(SERVER_ENGINES)(
    'loads only the $name engine and its driver for a run into $name',
    async (engine) => {
      const place = engine.fresh();
      try {
        const { result, packages, ours } = await runRecorded(
          ['run', '--objects', 'clients', '--destination', place.url, '--json'],
          {
            HARVEST_ACCESS_TOKEN: sim.adminToken,
            HARVEST_ACCOUNT_ID: sim.accountId,
            HARVEST_BASE_URL: sim.url,
          },
        );
        expect(result.code, result.stderr).toBe(0);
        expect(ours).toContain(`destinations/${engine.name}/${engine.name}-access.js`);
        expect(packages).toContain(engine.name === 'postgres' ? 'pg' : 'mysql2');
        expect(otherEngines(ours, engine.name)).toEqual([]);
        const others = ['better-sqlite3', 'pg', 'mysql2'].filter(
          (p) => p !== (engine.name === 'postgres' ? 'pg' : 'mysql2'),
        );
        expect([...packages].filter((p) => others.includes(p))).toEqual([]);
      } finally {
        await place.drop();
      }
    },
  );

  it('records the modules of a process that loads them (the hook itself works)', async () => {
    const { packages, ours } = await runRecorded(['tap', '--help']);
    expect(ours).toContain('cli/commands/tap.js');
    expect(packages).toContain('zod');
  });
});

const PG_UNREACHABLE = 'postgres://u@127.0.0.1:1/db';

/** Bad flags of the daemons: each must be refused before the program behind them loads. */
const BAD_DAEMON_INPUT: Record<string, string[]> = {
  'serve: a bad port': ['serve', '--port', 'abc'],
  'serve: a bad --max-runs': ['serve', '--max-runs', '0', '--control-store', PG_UNREACHABLE],
  'serve: a bad --lost-after': ['serve', '--lost-after', '4', '--control-store', PG_UNREACHABLE],
  'serve: --max-runs without PostgreSQL': ['serve', '--max-runs', '2'],
  'serve: a control store that is not PostgreSQL': ['serve', '--control-store', 'sqlite:x.db'],
  'serve: a bad allowed host': ['serve', '--allowed-host', '<b>'],
  'serve: a bad allowed base URL': ['serve', '--allow-base-url', 'ftp://x'],
  'serve: an empty SQLite root': ['serve', '--sqlite-root', ''],
  'serve: a data directory too long for the file system': ['serve', '--data-dir', 'd'.repeat(5000)],
  'worker: a bad --max-runs': ['worker', '--max-runs', 'x', '--control-store', PG_UNREACHABLE],
  'worker: a bad --lost-after': ['worker', '--lost-after', '1', '--control-store', PG_UNREACHABLE],
  'worker: a bad account rate limit': [
    'worker',
    '--account-rate-limit',
    'fast',
    '--control-store',
    PG_UNREACHABLE,
  ],
  'worker: no control store': ['worker'],
  'worker: a control store that is not PostgreSQL': ['worker', '--control-store', 'sqlite:x.db'],
  'worker: a bad allowed base URL': [
    'worker',
    '--allow-base-url',
    'ftp://x',
    '--control-store',
    PG_UNREACHABLE,
  ],
  'worker: an empty SQLite root': ['worker', '--sqlite-root', '', '--control-store', PG_UNREACHABLE],
};

/** What a refused `serve` or `worker` must not have loaded: the server, the store, the queue, the logger. */
const NEVER_ON_DAEMON_REFUSAL = [...NEVER_ON_RUN, 'better-sqlite3'];

describe('the start of `serve` and `worker` (a real process, every module it loads recorded)', () => {
  it.each(Object.entries(BAD_DAEMON_INPUT))(
    'refuses %s with one line before loading the server, the control store or the queue',
    async (_, args) => {
      const cwd = join(dir.dir, `daemon-${runs + 1}`);
      mkdirSync(cwd);
      const { result, packages, ours } = await runRecorded(args, {}, cwd);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
      expect(ours).toContain(`cli/commands/${args[0]}.js`);
      expect(packages).toContain('commander');
      expect([...packages].filter((p) => NEVER_ON_DAEMON_REFUSAL.includes(p))).toEqual([]);
      const program = ours.filter(
        (m) =>
          ['web', 'simulator', 'sync', 'destinations'].includes(m.split('/')[0]) ||
          ['control/open.js', 'cli/serve-run.js', 'cli/cluster-run.js', 'server/app.js'].includes(m),
      );
      expect(program).toEqual([]);
      // nothing written: no data directory, no control store
      expect(readdirSync(cwd)).toEqual([]);
    },
  );

  it.each([
    ['pipelines', 'list', '--control-store', 'sqlite:x.db'],
    ['runs', 'list', '--limit', 'x'],
    ['workers', 'list', '--control-store', 'sqlite:x.db'],
  ])('refuses `%s %s %s` before loading zod or a control store driver', async (...args) => {
    const cwd = join(dir.dir, `control-${runs + 1}`);
    mkdirSync(cwd);
    const { result, packages, ours } = await runRecorded(args, {}, cwd);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
    expect(ours).toContain(`cli/commands/${args[0]}.js`);
    expect([...packages].filter((p) => NEVER_ON_DAEMON_REFUSAL.includes(p))).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('loads the server only once every flag passed (the refusals above are not vacuous)', async () => {
    const cwd = join(dir.dir, 'daemon-help');
    mkdirSync(cwd);
    // a taken port: every flag passes, then the bind probe refuses it, before any file is written
    const { result, ours } = await runRecorded(
      ['serve', '--port', new URL(sim.url).port, '--host', '127.0.0.1'],
      {},
      cwd,
    );
    expect(result.stderr).toMatch(/already in use/);
    expect(ours).not.toContain('cli/serve-run.js');
    const { result: set, packages } = await runRecorded(['serve', '--set-password', '--data-dir', cwd], {
      HARVEST_SYNC_ADMIN_PASSWORD: 'short',
    });
    expect(set.code).toBe(2);
    expect(packages).toContain('hono');
  });
});
