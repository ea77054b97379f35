import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { PG_URL } from './helpers.js';

/*
 * The `pipelines` and `runs` commands as a user runs them: real processes, a real simulator on
 * 127.0.0.1, a real data directory. Every byte a command prints is checked for the token.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let sim: Simulator;
let dataDir: string;
const outputs: string[] = [];
/** The simulators stand for Harvest: saved pipelines may use them only when allowed. */
const allowedOrigins: string[] = [];

function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          HARVEST_SYNC_HOME: dataDir,
          HARVEST_SYNC_SECRET_KEY: '',
          HARVEST_SYNC_CONTROL_STORE: '',
          HARVEST_SYNC_ALLOWED_BASE_URLS: allowedOrigins.join(','),
          ...env,
        },
      },
      (error, stdout, stderr) => {
        outputs.push(stdout, stderr);
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const json = <T>(r: Result): T => JSON.parse(r.stdout) as T;

function rows(path: string, table: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Record<string, unknown>[]).map(
      (row) => {
        const { _synced_at: _ignored, ...rest } = row;
        return rest;
      },
    );
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.05, rateLimit: null, adminToken: TOKEN });
  allowedOrigins.push(sim.url);
  dataDir = mkdtempSync(join(tmpdir(), 'hs-cli-'));
});
afterAll(async () => {
  await sim?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('harvest-sync pipelines and runs, as processes', () => {
  const base = () => [
    '--account-id',
    sim.accountId,
    '--base-url',
    sim.url,
    '--destination',
    'sqlite:acme.db',
  ];

  it('refuses a pipeline whose connection test fails, and stores nothing', async () => {
    const r = await cli(['pipelines', 'create', '--name', 'acme', '--token', 'not-the-token', ...base()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: connection test failed: .*401.*nothing was saved/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(json<unknown[]>(await cli(['pipelines', 'list', '--json']))).toEqual([]);
  });

  it('refuses bad input with exit code 2 and the allowed range', async () => {
    const r = await cli([
      'pipelines',
      'create',
      '--name',
      'acme',
      '--token',
      TOKEN,
      ...base(),
      '--frequency',
      '25',
    ]);
    expect(r).toMatchObject({
      code: 2,
      stderr: 'error: frequency must be a whole number of hours from 1 to 24\n',
    });
  });

  it('creates, lists, shows, updates, pauses, resumes, runs and deletes a pipeline without ever printing the token', async () => {
    const created = await cli(
      [
        'pipelines',
        'create',
        '--name',
        'acme',
        ...base(),
        '--objects',
        'clients,projects,time_entries',
        '--frequency',
        '6',
        '--json',
      ],
      { HARVEST_ACCESS_TOKEN: TOKEN },
    );
    expect(created.code).toBe(0);
    const pipeline = json<{
      id: number;
      token: string;
      frequencyHours: number;
      connectionTest: { ok: boolean; admin: boolean };
    }>(created);
    expect(pipeline).toMatchObject({
      token: `••••${TOKEN.slice(-4)}`,
      frequencyHours: 6,
      connectionTest: { ok: true, admin: true },
    });
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);

    const dup = await cli(['pipelines', 'create', '--name', 'ACME', '--token', TOKEN, ...base()]);
    expect(dup).toMatchObject({ code: 2, stderr: 'error: a pipeline named "acme" already exists\n' });

    const list = await cli(['pipelines', 'list']);
    expect(list.stdout).toMatch(/acme\s+new\s+6h\s+••••/);
    const shown = json<{ id: number; objects: string[] }>(
      await cli(['pipelines', 'show', String(pipeline.id), '--json']),
    );
    expect(shown).toMatchObject({ id: pipeline.id, objects: ['clients', 'projects', 'time_entries'] });

    const updated = await cli([
      'pipelines',
      'update',
      'acme',
      '--frequency',
      '12',
      '--since',
      '2020-01-01',
      '--json',
    ]);
    expect(json(updated)).toMatchObject({ frequencyHours: 12, since: '2020-01-01' });
    expect(json(await cli(['pipelines', 'pause', 'acme', '--json']))).toMatchObject({
      enabled: false,
      status: 'paused',
      nextRunAt: null,
    });
    expect(json(await cli(['pipelines', 'resume', 'acme', '--json']))).toMatchObject({ enabled: true });

    const run = await cli(['pipelines', 'run', 'acme']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/time_entries\s+succeeded\s+full/);
    const replica = join(dataDir, 'acme.db');
    expect(rows(replica, 'time_entries')).toHaveLength([...sim.records('time_entries')].length);

    const runs = json<{ id: number; status: string; trigger: string; objects: unknown[] }[]>(
      await cli(['runs', 'list', '--pipeline', 'acme', '--json']),
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', trigger: 'manual' });
    const runShown = await cli(['runs', 'show', String(runs[0].id)]);
    expect(runShown.stdout).toMatch(/clients\s+succeeded/);
    expect((await cli(['runs', 'show', '999'])).stderr).toBe('error: no run numbered "999"\n');

    const deleted = await cli(['pipelines', 'delete', 'acme']);
    expect(deleted.code).toBe(0);
    const gone = await cli(['pipelines', 'show', 'acme']);
    expect(gone).toMatchObject({ code: 1, stderr: 'error: no pipeline named or numbered "acme"\n' });

    // The token reached none of the outputs, nor the control database.
    expect(outputs.join('\n')).not.toContain(TOKEN);
    const control = readdirSync(dataDir)
      .filter((f) => f.startsWith('control.db'))
      .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
      .join('');
    expect(control).toContain('acme.db'); // the files are readable as text: the check below means something
    expect(control).not.toContain(TOKEN);
  });

  it('keeps pipelines in PostgreSQL with --control-store, the token encrypted there too', async () => {
    const schema = `hs_cli_${randomBytes(6).toString('hex')}`;
    const url = `${PG_URL}?schema=${schema}`;
    try {
      const created = await cli([
        'pipelines',
        'create',
        '--control-store',
        url,
        '--name',
        'pg-kept',
        '--token',
        TOKEN,
        '--skip-test',
        '--account-id',
        sim.accountId,
        '--base-url',
        sim.url,
        '--destination',
        'sqlite:pg-kept.db',
        '--objects',
        'clients',
      ]);
      expect(created.code).toBe(0);
      const listed = json<{ name: string }[]>(
        await cli(['pipelines', 'list', '--json'], { HARVEST_SYNC_CONTROL_STORE: url }),
      );
      expect(listed.map((p) => p.name)).toEqual(['pg-kept']);
      // Not in the SQLite control store of the data dir.
      expect(
        json<{ name: string }[]>(await cli(['pipelines', 'list', '--json'])).map((p) => p.name),
      ).not.toContain('pg-kept');
      expect((await cli(['pipelines', 'run', 'pg-kept', '--control-store', url])).code).toBe(0);
      expect(rows(join(dataDir, 'pg-kept.db'), 'clients')).toHaveLength([...sim.records('clients')].length);
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const dump = await client.query(`SELECT row_to_json(p)::text AS row FROM "${schema}".pipelines p`);
        expect(dump.rows[0].row).toContain('pg-kept');
        expect(JSON.stringify(dump.rows)).not.toContain(TOKEN);
      } finally {
        await client.end();
      }
    } finally {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
    expect(outputs.join('\n')).not.toContain(TOKEN);
  });
});

describe('SIGTERM during `pipelines run`', () => {
  // 10,000 time entries: five pages, so there is a middle to stop in.
  let big: Simulator;
  beforeAll(async () => {
    // two replicas read at different moments are compared: running timers held still
    // (their growth without updated_at is test/simulator/replica.test.ts's subject)
    big = await startSimulator({ scale: 1, rateLimit: null, adminToken: TOKEN, timersGrow: false });
    allowedOrigins.push(big.url);
  });
  afterAll(async () => {
    await big?.stop();
  });

  it('records the run interrupted, and the next run resumes to exactly the data of an uninterrupted run', async () => {
    const sim = big;
    const objects = 'clients,projects,time_entries,invoices';
    for (const name of ['steady', 'stopped']) {
      const r = await cli([
        'pipelines',
        'create',
        '--name',
        name,
        '--token',
        TOKEN,
        '--account-id',
        sim.accountId,
        '--base-url',
        sim.url,
        '--destination',
        `sqlite:${name}.db`,
        '--objects',
        objects,
      ]);
      expect(r.code).toBe(0);
    }
    expect((await cli(['pipelines', 'run', 'steady'])).code).toBe(0);

    // Slow pages, so the run is surely mid-way when the signal comes.
    sim.setFaults({ slowRate: 1, slowMs: 150 });
    sim.resetCounters();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'pipelines', 'run', 'stopped', '--json'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          HARVEST_SYNC_HOME: dataDir,
          HARVEST_SYNC_SECRET_KEY: '',
          HARVEST_SYNC_CONTROL_STORE: '',
          HARVEST_SYNC_ALLOWED_BASE_URLS: allowedOrigins.join(','),
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    // The first page, the one-record probe, then two date windows side by side (10,000 entries at
    // 2,000 a page): a fifth request for time entries is a window's second page, so that window's
    // first page was written (the newest window reads the first page's records again: stopped before
    // any window page committed, the run would resume every window from its top).
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if ((sim.counters.byPath['/v2/time_entries'] ?? 0) >= 5 || child.exitCode !== null) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    outputs.push(stdout, stderr);
    const interrupted = JSON.parse(stdout) as { status: string; objects: { object: string; read: number }[] };
    expect(interrupted.status).toBe('interrupted');
    expect(stderr).toContain('stopping after the current batch commits');
    const total = [...sim.records('time_entries')].length;
    const readBefore = interrupted.objects.find((o) => o.object === 'time_entries')?.read ?? 0;
    expect(readBefore).toBeLessThan(total);

    sim.setFaults(null);
    const resumed = await cli(['pipelines', 'run', 'stopped', '--json']);
    expect(resumed.code).toBe(0);
    const second = json<{ status: string; objects: { object: string; read: number }[] }>(resumed);
    // It went on from the committed pages instead of starting over.
    expect(second.objects.find((o) => o.object === 'time_entries')?.read).toBeLessThan(total);

    const history = json<{ status: string }[]>(
      await cli(['runs', 'list', '--pipeline', 'stopped', '--json']),
    );
    expect(history.map((r) => r.status)).toEqual(['succeeded', 'interrupted']);
    for (const table of objects.split(',')) {
      expect(rows(join(dataDir, 'stopped.db'), table)).toEqual(rows(join(dataDir, 'steady.db'), table));
    }
    expect(outputs.join('\n')).not.toContain(TOKEN);
  });
});
