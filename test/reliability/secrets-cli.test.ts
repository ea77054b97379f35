import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from './support/cli-process.js';
import { SecretSweep } from './support/secret-sweep.js';

/*
 * Secrets through the CLI: the Harvest token (flag and environment), a wrong token, a PostgreSQL
 * password in destination URLs, on success and on every error path. The last test sweeps all output,
 * every file left behind and pg_dump of the schemas used (support/secret-sweep.ts).
 */

const sweep = new SecretSweep(['runDest', 'cliDest'] as const);
const { secrets } = sweep;
beforeAll(() => sweep.start());
afterAll(() => sweep.stop());

const harvestFlags = () => ['--account-id', sweep.sim.accountId, '--base-url', sweep.sim.url];
const objects = ['--objects', 'clients,projects,users'];
const control = () => ['--data-dir', join(sweep.root, 'cli-data')];

async function cli(where: string, args: string[], env: Record<string, string> = {}, expectCode = 0) {
  // the simulator stands for Harvest: saved pipelines may use it only when allowed
  const allowSim = { HARVEST_SYNC_ALLOWED_BASE_URLS: sweep.sim.url };
  const run = await runCliProcess(args, { env: { ...allowSim, ...env }, cwd: sweep.root, timeoutMs: 60_000 });
  sweep.keepRun(where, run);
  expect(run.code, `${where}: ${run.stderr}`).toBe(expectCode);
  return run;
}

describe('the CLI never shows a secret', () => {
  it('check: the token as a flag, from the environment, and a wrong one', async () => {
    await cli('check --token', ['check', '--token', secrets.harvestToken, ...harvestFlags()]);
    await cli('check env --json', ['check', '--json', ...harvestFlags()], {
      HARVEST_ACCESS_TOKEN: secrets.harvestToken,
    });
    const wrong = await cli(
      'check wrong token',
      ['check', '--token', secrets.wrongToken, ...harvestFlags()],
      {},
      1,
    );
    expect(wrong.stderr).toMatch(/^error: /);
  }, 60_000);

  it('run: into SQLite, into PostgreSQL, and into an unreachable PostgreSQL', async () => {
    const token = ['--token', secrets.harvestToken];
    const sqlite = `sqlite:${join(sweep.root, 'run.db')}`;
    await cli('run sqlite', ['run', ...token, ...harvestFlags(), ...objects, '--destination', sqlite]);
    await cli(
      'run postgres --json',
      ['run', '--json', ...harvestFlags(), ...objects, '--destination', sweep.pgUrl('runDest')],
      { HARVEST_ACCESS_TOKEN: secrets.harvestToken },
    );
    const unreachable = sweep.pgUrl('runDest', 1);
    await cli(
      'run unreachable postgres',
      ['run', ...token, ...harvestFlags(), ...objects, '--destination', unreachable],
      {},
      1,
    );
  }, 90_000);

  it('pipelines create: saved, refused for a wrong token, refused for an origin not allowed', async () => {
    const create = ['pipelines', 'create', ...control()];
    await cli('pipelines create', [
      ...create,
      ...['--name', 'secret sweep', '--token', secrets.harvestToken, ...harvestFlags(), ...objects],
      ...['--destination', sweep.pgUrl('cliDest')],
    ]);
    await cli(
      'pipelines create --json (sqlite)',
      [
        ...create,
        '--json',
        '--name',
        'revoked',
        ...harvestFlags(),
        ...objects,
        '--destination',
        'sqlite:revoked.db',
      ],
      { HARVEST_ACCESS_TOKEN: secrets.harvestToken },
    );
    await cli(
      'pipelines create refused',
      [
        ...[...create, '--name', 'wrong token', '--token', secrets.wrongToken, ...harvestFlags()],
        ...['--destination', sweep.pgUrl('cliDest')],
      ],
      {},
      1,
    );
    await cli(
      'pipelines create, origin not allowed',
      [
        ...[
          ...create,
          '--name',
          'elsewhere',
          '--token',
          secrets.harvestToken,
          '--account-id',
          sweep.sim.accountId,
        ],
        ...['--base-url', 'https://harvest-proxy.example', '--destination', 'sqlite:elsewhere.db'],
      ],
      {},
      2,
    );
  }, 90_000);

  it('pipelines list, show and update; a new base URL without the token is refused', async () => {
    const localhost = sweep.sim.url.replace('127.0.0.1', 'localhost');
    await cli(
      'pipelines update --base-url without the token',
      [
        'pipelines',
        'update',
        'secret sweep',
        '--base-url',
        localhost,
        '--allow-base-url',
        localhost,
        ...control(),
      ],
      {},
      2,
    );
    await cli('pipelines list', ['pipelines', 'list', ...control()]);
    await cli('pipelines list --json', ['pipelines', 'list', '--json', ...control()]);
    await cli('pipelines show --json', ['pipelines', 'show', 'secret sweep', '--json', ...control()]);
    await cli('pipelines show', ['pipelines', 'show', 'secret sweep', ...control()]);
    await cli('pipelines update', [
      ...['pipelines', 'update', 'secret sweep', '--json', '--token', secrets.harvestToken, ...control()],
    ]);
    await cli(
      'pipelines update refused',
      ['pipelines', 'update', 'secret sweep', '--token', secrets.wrongToken, ...control()],
      {},
      1,
    );
  }, 90_000);

  it('pipelines run: done, refused once its origin is no longer allowed, failed when Harvest revokes the token', async () => {
    const disallowed = await cli(
      'pipelines run, origin no longer allowed',
      ['pipelines', 'run', 'secret sweep', ...control()],
      { HARVEST_SYNC_ALLOWED_BASE_URLS: '' },
      1,
    );
    expect(disallowed.stderr).toMatch(/not an allowed Harvest API URL/);
    await cli('pipelines run', ['pipelines', 'run', 'secret sweep', ...control()]);
    await cli('pipelines run --json', [
      'pipelines',
      'run',
      'secret sweep',
      '--json',
      '--full-refresh',
      ...control(),
    ]);
    // the token revoked by Harvest while the run reads
    sweep.sim.setFaults({ revokeAfterPages: 1 });
    const revoked = await cli('pipelines run revoked', ['pipelines', 'run', 'revoked', ...control()], {}, 1);
    sweep.sim.setFaults(null);
    expect(revoked.stderr).toMatch(/^error: /m);
  }, 90_000);

  it('runs list and show', async () => {
    await cli('runs list', ['runs', 'list', ...control()]);
    await cli('runs list --json', ['runs', 'list', '--json', ...control()]);
    await cli('runs show --json', ['runs', 'show', '1', '--json', ...control()]);
    await cli('runs show', ['runs', 'show', '2', ...control()]);
  }, 60_000);

  it('leaves no secret, in clear or encoded, in any output, file or pg_dump', async () => {
    const { everything, leftBehind, dump } = await sweep.everything();
    // what the sweep read: both destinations and the control store really hold data
    expect(dump).toContain(`${sweep.schemas.cliDest}.clients`);
    expect(dump).toContain(`${sweep.schemas.runDest}.clients`);
    expect(leftBehind.some((f) => f.where.endsWith('control.db'))).toBe(true);
    expect(leftBehind.some((f) => f.where.endsWith('run.db'))).toBe(true);
    expect(sweep.seen.length).toBeGreaterThan(40);
    expect(sweep.leaks(everything)).toEqual([]);
    console.info(sweep.summary(everything));
  });
});
