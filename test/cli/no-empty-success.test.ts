import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OBJECT_NAMES } from '../../src/catalog/objects.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import type { TestServer } from '../harvest/helpers.js';
import { startHtmlNotFoundServer, startNothingReadableServer } from '../support/harvest-answers.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { runCli, STACK_LINE, type CliResult } from './cli-helpers.js';

/*
 * No empty success, as users run the commands: the base URL in every documented form reaches
 * Harvest; a base URL where something else answers (an HTML 404) fails naming the URL; a run, a
 * `check` or a pipeline run in which nothing could be read fails with the reasons, exit 1.
 */

let sim: Simulator;
let notHarvest: TestServer;
let nothingReadable: TestServer;
let dir: { dir: string; cleanup: () => void };

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.02, seed: 3, rateLimit: null });
  notHarvest = await startHtmlNotFoundServer();
  nothingReadable = await startNothingReadableServer();
});
afterAll(async () => {
  await Promise.all([sim.stop(), notHarvest.close(), nothingReadable.close()]);
});
beforeEach(() => (dir = tempDir()));
afterEach(() => dir.cleanup());

function harvest(token: string, baseUrl?: string): Record<string, string> {
  return {
    HARVEST_ACCESS_TOKEN: token,
    HARVEST_ACCOUNT_ID: sim.accountId,
    ...(baseUrl === undefined ? {} : { HARVEST_BASE_URL: baseUrl }),
  };
}

function run(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return runCli(['run', ...args, '--destination', `sqlite:${join(dir.dir, 'h.db')}`], env);
}

interface Summary {
  status: string;
  error?: string;
  objects: Array<{ object: string; status: string; read: number; reason?: string }>;
}
const summary = (r: CliResult) => JSON.parse(r.stdout) as Summary;

function expectClean(r: CliResult, token: string): void {
  const output = r.stdout + r.stderr;
  expect(output).not.toContain(token);
  expect(output).not.toMatch(STACK_LINE);
  // nothing of a body that is not Harvest's: no markup, none of Harvest's 404 page
  expect(output).not.toMatch(/<|DOCTYPE|Can.t find page|gtag/i);
}

/** Objects of the destination with a completed pass: none after a run that read nothing. */
function completedObjects(): string[] {
  const path = join(dir.dir, 'h.db');
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    const state = db.prepare("SELECT name FROM sqlite_master WHERE name = '_harvest_sync_state'").get();
    if (!state) return [];
    const rows = db.prepare('SELECT object FROM _harvest_sync_state WHERE cursor IS NOT NULL').all();
    return (rows as Array<{ object: string }>).map((r) => r.object);
  } finally {
    db.close();
  }
}

describe('the base URL in every documented form', () => {
  it('run reaches Harvest from --base-url …/v2/ and from HARVEST_BASE_URL …/v2', async () => {
    const clients = [...sim.records('clients')].length;
    for (const [env, flags, db] of [
      [harvest(sim.adminToken), ['--base-url', `${sim.url}/v2/`], 'a.db'],
      [harvest(sim.adminToken, `${sim.url}/v2`), [], 'b.db'],
      [harvest(sim.adminToken, `${sim.url}/api/v2/`), [], 'c.db'],
    ] as const) {
      const destination = `sqlite:${join(dir.dir, db)}`;
      const r = await runCli(
        ['run', '--objects', 'clients,tasks', '--json', ...flags, '--destination', destination],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      const result = summary(r);
      expect(result.status).toBe('succeeded');
      expect(result.objects.map((o) => [o.object, o.status])).toEqual([
        ['clients', 'succeeded'],
        ['tasks', 'succeeded'],
      ]);
      expect(result.objects[0].read).toBe(clients);
    }
    expect(Object.keys(sim.counters.byPath).filter((p) => p.includes('/v2/v2'))).toEqual([]);
  });

  it('check reaches Harvest from …/v2', async () => {
    const r = await runCli(['check', '--base-url', `${sim.url}/v2`], harvest(sim.adminToken));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${OBJECT_NAMES.length} of ${OBJECT_NAMES.length} objects readable`);
  });
});

describe('a base URL where something else than Harvest answers (an HTML 404)', () => {
  it('run fails, exit 1, naming the URL requested; no object is marked done', async () => {
    const r = await run(harvest(sim.adminToken, notHarvest.url), '--objects', 'clients,users,time_entries');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: clients: GET ${notHarvest.url}/v2/clients\\?per_page=2000 answered 404 with an HTML page, not an answer of Harvest's API: check the Harvest API URL`,
        'm',
      ),
    );
    expect(r.stdout).not.toMatch(/skipped|succeeded/);
    expect(completedObjects()).toEqual([]);
    expectClean(r, sim.adminToken);
  });

  it('check fails, exit 1, naming the URL', async () => {
    const r = await runCli(['check', '--base-url', `${notHarvest.url}/v2/`], harvest(sim.adminToken));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: users/me: GET ${notHarvest.url}/v2/users/me answered 404 with an HTML page, not an answer of Harvest's API: check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl); Harvest's own is https://api.harvestapp.com\n`,
    );
    expectClean(r, sim.adminToken);
  });
});

describe('nothing synced is no success', () => {
  const skipped = (object: string) =>
    `${object}: this token may not read ${object} \\(403 Not authorized!\\): an administrator token`;

  it("run with a member token and only objects it may not read fails, exit 1, with Harvest's reasons", async () => {
    const r = await run(harvest(sim.memberToken, sim.url), '--objects', 'clients,contacts');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: nothing was synced: every selected object was skipped — ${skipped('clients')}.*; ${skipped('contacts')}`,
        'm',
      ),
    );
    expectClean(r, sim.memberToken);
  });

  it("run with a member token still succeeds when one object synced, skipping on Harvest's own 403", async () => {
    const r = await run(harvest(sim.memberToken, sim.url), '--objects', 'clients,time_entries', '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = summary(r);
    expect(result.status).toBe('succeeded');
    expect(result.objects.map((o) => [o.object, o.status])).toEqual([
      ['clients', 'skipped'],
      ['time_entries', 'succeeded'],
    ]);
    expect(result.objects[0].reason).toMatch(new RegExp(`^${skipped('clients')}`));
  });

  it('check fails, exit 1, when the token can read no object, with the reasons', async () => {
    const r = await runCli(['check', '--base-url', nothingReadable.url], harvest(sim.memberToken));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`0 of ${OBJECT_NAMES.length} objects readable`);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: nothing can be synced: this token can read none of the objects — ${skipped('clients')}.* \\(and ${OBJECT_NAMES.length - 3} more\\)\n$`,
      ),
    );
  });

  it('pipelines create refuses, and pipelines run fails, exit 1, with the reasons', async () => {
    // the simulator stands for Harvest: saved pipelines may use it only when allowed
    const home = { HARVEST_SYNC_HOME: dir.dir, HARVEST_SYNC_ALLOWED_BASE_URLS: sim.url };
    const create = (...extra: string[]) =>
      runCli(
        [
          'pipelines',
          'create',
          '--name',
          'member',
          '--account-id',
          sim.accountId,
          '--base-url',
          `${sim.url}/v2/`,
          '--destination',
          'sqlite:member.db',
          '--objects',
          'clients,contacts',
          '--paused',
          ...extra,
        ],
        { ...home, HARVEST_ACCESS_TOKEN: sim.memberToken },
      );
    const refused = await create();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^error: connection test failed: the token of .* can read none of the selected objects — ${skipped('clients')}`,
      ),
    );
    const created = await create('--skip-test', '--json');
    expect(created.code, created.stderr).toBe(0);
    expect((JSON.parse(created.stdout) as { baseUrl: string }).baseUrl).toBe(sim.url);

    const r = await runCli(['pipelines', 'run', 'member', '--json'], home);
    expect(r.code).toBe(1);
    const runView = JSON.parse(r.stdout) as Summary;
    expect(runView.status).toBe('failed');
    expect(runView.error).toMatch(/^nothing was synced: every selected object was skipped — clients: /);
    expect(runView.objects.map((o) => o.status)).toEqual(['skipped', 'skipped']);
    expectClean(r, sim.memberToken);
  });
});
