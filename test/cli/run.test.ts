import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS, OBJECTS } from '../../src/catalog/objects.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { expectedTables, project, readTable, tempDir } from '../sync/support/sqlite-helpers.js';
import { simRecords } from '../sync/support/simulator-helpers.js';
import { runCli, startCli, STACK_LINE, type CliResult } from './cli-helpers.js';

/*
 * The `run` command as users run it: a real process, over real HTTP against the simulator, into a
 * real SQLite file. Each test checks the final tables against the simulator's own records.
 */

let sim: Simulator;
let dir: { dir: string; cleanup: () => void };
let db: string;

beforeAll(async () => {
  // replicas are compared with the simulator at a later moment: running timers held still
  // (their growth without updated_at is test/simulator/replica.test.ts's subject)
  sim = await startSimulator({ scale: 0.05, seed: 7, rateLimit: null, timersGrow: false });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  dir = tempDir();
  db = join(dir.dir, 'harvest.db');
  sim.setFaults(null);
  sim.setRateLimit(null);
  sim.resetCounters();
});
afterEach(() => dir.cleanup());

function env(): Record<string, string> {
  return {
    HARVEST_ACCESS_TOKEN: sim.adminToken,
    HARVEST_ACCOUNT_ID: sim.accountId,
    HARVEST_BASE_URL: sim.url,
  };
}

function run(...args: string[]): Promise<CliResult> {
  return runCli(['run', '--destination', `sqlite:${db}`, '--rate-limit', '10000/1', ...args], env());
}

/** Every table equals what the simulator serves now (catalog columns, nothing deleted). */
function expectReplicaExact(path = db): void {
  for (const spec of DEFAULT_OBJECTS) {
    const expected = expectedTables(spec, simRecords(sim, spec.name), sqliteEncoders);
    for (const [table, rows] of Object.entries(expected)) {
      const live = readTable(path, table).filter((r) => r._deleted_at === null);
      expect(project(live, rows), table).toEqual(rows);
    }
  }
}

/** Objects whose state shows no completed pass yet, or a pass under way: the run was cut short. */
function unfinishedObjects(): string[] {
  const sqlite = new Database(db, { readonly: true });
  try {
    const rows = sqlite.prepare('SELECT * FROM _harvest_sync_state').all() as Record<string, unknown>[];
    const done = new Set(
      rows.filter((r) => r.cursor !== null && r.pass === null).map((r) => String(r.object)),
    );
    return DEFAULT_OBJECTS.map((o) => o.name).filter((name) => !done.has(name));
  } finally {
    sqlite.close();
  }
}

/** An object's line of `run --json`. */
interface Counted {
  object: string;
  status: string;
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

function expectClean(result: CliResult): void {
  const output = result.stdout + result.stderr;
  expect(output).not.toContain(sim.adminToken);
  expect(output).not.toMatch(STACK_LINE);
}

describe('harvest-sync run', () => {
  it('replicates every object of the account exactly, across many pages', async () => {
    const result = await run('--per-page', '25', '--json');
    expectClean(result);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      objects: { object: string; pages: number }[];
    };
    expect(summary.status).toBe('succeeded');
    expect(summary.objects.map((o) => o.object).sort()).toEqual(DEFAULT_OBJECTS.map((o) => o.name).sort());
    expect(summary.objects.find((o) => o.object === 'time_entries')!.pages).toBeGreaterThan(10);
    expectReplicaExact();
  });

  it('prints a summary table with a row per object when not asked for JSON', async () => {
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    for (const spec of DEFAULT_OBJECTS)
      expect(result.stdout).toMatch(new RegExp(`^${spec.name}\\s+succeeded`, 'm'));
    expect(result.stdout).toMatch(/^total\s+succeeded/m);
    // not a terminal: plain log lines, not redrawn progress
    expect(result.stderr).toContain('time_entries: starting full pass');
    expect(result.stderr).not.toContain('\x1b[');
  });

  it('rides out 429 bursts, 5xx answers, connection resets and truncated bodies with exact data', async () => {
    sim.setFaults({
      seed: 3,
      errorRate: 0.1,
      resetRate: 0.05,
      truncateRate: 0.05,
      burst429: { count: 3, variant: 'retry-after' },
    });
    const result = await run('--per-page', '50', '--json');
    expectClean(result);
    expect(result.code, result.stderr).toBe(0);
    expect(sim.counters.rateLimited).toBe(3);
    expect(sim.counters.byStatus['reset'] ?? 0).toBeGreaterThan(0);
    sim.setFaults(null);
    expectReplicaExact();
  });

  it('survives a 429 with no Retry-After and an HTML body', async () => {
    sim.setFaults({ burst429: { count: 1, variant: 'html' } });
    const result = await run('--objects', 'clients', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(sim.counters.rateLimited).toBe(1);
  }, 60_000);

  it('fetches only what changed on the next run, about one call per object', async () => {
    expect((await run()).code).toBe(0);
    const entry = simRecords(sim, 'time_entries')[3];
    const client = simRecords(sim, 'clients')[1];
    sim.update('time_entries', entry.id as number, { notes: 'edited after the first run' });
    // not a rename: copies of the name in other records would stay stale until a full refresh
    // (see README, "Changes Harvest makes without moving updated_at")
    sim.update('clients', client.id as number, { address: 'Moved after the first run' });
    sim.resetCounters();
    const result = await run('--json');
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      objects: { object: string; read: number; calls: number }[];
    };
    expect(sim.counters.total).toBeLessThanOrEqual(DEFAULT_OBJECTS.length + 2);
    const timeEntries = summary.objects.find((o) => o.object === 'time_entries')!;
    // what changed, then the running timers (their hours grow while updated_at stays)
    const running = simRecords(sim, 'time_entries').filter((r) => r.is_running === true).length;
    expect(timeEntries.calls).toBe(2);
    expect(timeEntries.read).toBeGreaterThanOrEqual(1 + running);
    expect(timeEntries.read).toBeLessThan(10 + running);
    expectReplicaExact();
  });

  it('counts records read again as they were as unchanged: an identical run updates nothing', async () => {
    expect((await run()).code).toBe(0);
    for (const args of [[], ['--full-refresh']]) {
      const result = await run('--json', ...args);
      expect(result.code, result.stderr).toBe(0);
      const { objects } = JSON.parse(result.stdout) as { objects: Counted[] };
      for (const o of objects) {
        expect(o, `${args.join(' ')} ${o.object}`).toMatchObject({
          status: 'succeeded',
          inserted: 0,
          updated: 0,
          unchanged: o.read,
          deleted: 0,
        });
      }
      // roles are re-read in full on every run; a full refresh re-reads every object
      expect(objects.find((o) => o.object === 'roles')!.read).toBeGreaterThan(0);
      if (args.length > 0) {
        for (const o of objects) expect(o.read, o.object).toBe(simRecords(sim, o.object).length);
      }
    }
  });

  it('counts one edited record as updated, and a row marked deleted that comes back as updated', async () => {
    expect((await run()).code).toBe(0);
    const entry = simRecords(sim, 'time_entries')[7];
    sim.update('time_entries', entry.id as number, { notes: 'edited for the counts' });
    const task = simRecords(sim, 'tasks')[1];
    const sqlite = new Database(db);
    sqlite.prepare(`UPDATE tasks SET _deleted_at = '2026-01-01T00:00:00.000Z' WHERE id = ?`).run(task.id);
    sqlite.close();
    const result = await run('--full-refresh', '--json');
    expect(result.code, result.stderr).toBe(0);
    const { objects } = JSON.parse(result.stdout) as { objects: Counted[] };
    for (const o of objects) {
      const updated = o.object === 'time_entries' || o.object === 'tasks' ? 1 : 0;
      expect(o, o.object).toMatchObject({ inserted: 0, updated, unchanged: o.read - updated, deleted: 0 });
    }
    expect(readTable(db, 'tasks').find((r) => r.id === task.id)?._deleted_at).toBeNull();

    const table = await run('--objects', 'tasks');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^object\s+status\s+read\s+inserted\s+updated\s+unchanged\s+deleted\s/m);
    expect(table.stderr).toMatch(
      /tasks: succeeded, \d+ read \(0 inserted, 0 updated, \d+ unchanged, 0 deleted\)/,
    );
  });

  it('adds a column for a field Harvest starts sending, keeping its values', async () => {
    expect((await run('--objects', 'projects')).code).toBe(0);
    sim.addField('projects', 'client.tier', (r) => `tier-${String(r.id).slice(-1)}`);
    const result = await run('--objects', 'projects', '--full-refresh');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/added column client_tier/);
    const rows = readTable(db, 'projects');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.client_tier).toBe(`tier-${String(row.id).slice(-1)}`);
  });

  it('marks records deleted in Harvest on a full refresh, and undeletes none that still exist', async () => {
    expect((await run()).code).toBe(0);
    const gone = simRecords(sim, 'time_entries')[5].id as number;
    const goneTask = simRecords(sim, 'tasks')[0].id as number;
    const invoice = simRecords(sim, 'invoices').find((r) => (r.line_items as unknown[]).length > 0)!;
    sim.remove('time_entries', gone);
    sim.remove('tasks', goneTask);
    sim.remove('invoices', invoice.id as number);
    const result = await run('--full-refresh', '--json');
    expect(result.code, result.stderr).toBe(0);
    const deleted = (table: string) => readTable(db, table).filter((r) => r._deleted_at !== null);
    expect(deleted('time_entries').map((r) => r.id)).toEqual([gone]);
    expect(deleted('tasks').map((r) => r.id)).toEqual([goneTask]);
    expect(deleted('invoices').map((r) => r.id)).toEqual([invoice.id]);
    expect(
      deleted('invoice_line_items')
        .map((r) => r.invoice_id)
        .every((id) => id === invoice.id),
    ).toBe(true);
    expect(deleted('invoice_line_items')).toHaveLength((invoice.line_items as unknown[]).length);
    expectReplicaExact();
  });

  it('resumes after kill -9 mid-run and ends with exactly the same tables as an uninterrupted run', async () => {
    sim.setFaults({ seed: 1, slowRate: 1, slowMs: 15 });
    const child = startCli(
      ['run', '--destination', `sqlite:${db}`, '--per-page', '10', '--rate-limit', '10000/1'],
      env(),
    );
    await new Promise<void>((resolve) => {
      let seen = 0;
      child.stderr?.on('data', (d: Buffer) => {
        seen += (d.toString().match(/succeeded/g) ?? []).length;
        if (seen >= 3) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(unfinishedObjects()).not.toEqual([]);
    sim.setFaults(null);
    const resumed = await run('--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expectReplicaExact();
  });

  it('refuses a second run on the same destination while one is writing', async () => {
    sim.setFaults({ seed: 1, slowRate: 1, slowMs: 50 });
    const first = startCli(
      ['run', '--destination', `sqlite:${db}`, '--per-page', '10', '--rate-limit', '10000/1'],
      env(),
    );
    // Listened for from the start: on a slow machine the first run may end before we kill it.
    const firstClosed = new Promise((r) => first.on('close', r));
    await new Promise<void>((resolve) => first.stderr?.once('data', () => resolve()));
    const second = await run('--objects', 'clients');
    first.kill('SIGKILL');
    await firstClosed;
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another run is writing to/);
    expectClean(second);
  });

  it('stops cleanly on SIGTERM after the current batch, and the next run completes', async () => {
    sim.setFaults({ seed: 1, slowRate: 1, slowMs: 20 });
    const child = startCli(
      ['run', '--destination', `sqlite:${db}`, '--per-page', '10', '--rate-limit', '10000/1'],
      env(),
    );
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await new Promise<void>((resolve) => child.stderr?.once('data', () => resolve()));
    child.kill('SIGTERM');
    const code = await closed;
    expect(code).toBe(1);
    expect(unfinishedObjects()).not.toEqual([]);
    sim.setFaults(null);
    expect((await run()).code).toBe(0);
    expectReplicaExact();
  });
});

describe('harvest-sync run refuses bad input without touching data', () => {
  const cases: Array<{
    name: string;
    args: string[];
    env?: Record<string, string>;
    message: RegExp;
    code?: number;
  }> = [
    {
      name: 'missing token',
      args: [],
      env: { HARVEST_ACCESS_TOKEN: '' },
      message: /access token is required/,
    },
    { name: 'blank token', args: ['--token', '   '], message: /access token is required/ },
    {
      name: 'non-numeric account id',
      args: ['--account-id', '12ab'],
      message: /account id must be the numeric Harvest account id/,
    },
    {
      name: 'unknown object',
      args: ['--objects', 'clients,timesheets'],
      message: /unknown object "timesheets"/,
    },
    {
      name: 'per-page above 2000',
      args: ['--per-page', '2001'],
      message: /per-page must be a whole number from 1 to 2000/,
    },
    {
      name: 'per-page zero',
      args: ['--per-page', '0'],
      message: /per-page must be a whole number from 1 to 2000/,
    },
    {
      name: 'per-page not a number',
      args: ['--per-page', 'lots'],
      message: /per-page must be a whole number/,
    },
    { name: 'bad since date', args: ['--since', '2024-13-45'], message: /since must be a date/ },
    { name: 'bad base url', args: ['--base-url', 'ftp://x'], message: /base URL must be an http\(s\) URL/ },
    {
      name: 'unknown destination scheme',
      args: ['--destination', 'mssql://h/db'],
      message: /unknown destination scheme/,
    },
    { name: 'bad rate limit', args: ['--rate-limit', 'fast'], message: /rate limit must look like/ },
    {
      name: 'unwritable destination path',
      args: ['--destination', 'sqlite:/nonexistent-dir/sub/harvest.db'],
      message: /cannot open SQLite database/,
      code: 1,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with one line and exit code ${c.code ?? 2}`, async () => {
      const result = await runCli(['run', '--destination', `sqlite:${db}`, ...c.args], {
        ...env(),
        ...c.env,
      });
      expect(result.code).toBe(c.code ?? 2);
      expect(result.stderr).toMatch(c.message);
      expect(result.stderr.trim().split('\n')[0]).toMatch(/^error: /);
      expectClean(result);
      expect(existsSync(db)).toBe(false);
      expect(sim.counters.total).toBe(0);
    });
  }

  it('reports a revoked token as a failed run with a message, leaving committed data intact', async () => {
    expect((await run('--objects', 'clients')).code).toBe(0);
    const before = readTable(db, 'clients');
    const result = await runCli(
      ['run', '--destination', `sqlite:${db}`, '--objects', 'clients', '--full-refresh'],
      {
        ...env(),
        HARVEST_ACCESS_TOKEN: 'revoked-or-wrong-token',
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401/);
    expect(result.stdout + result.stderr).not.toContain('revoked-or-wrong-token');
    expect(readTable(db, 'clients')).toEqual(before);
  });
});

describe('harvest-sync check and discover', () => {
  it('check lists every object as readable for an admin token', async () => {
    const result = await runCli(['check', '--json'], env());
    expect(result.code, result.stderr).toBe(0);
    const check = JSON.parse(result.stdout) as { isAdmin: boolean; objects: { readable: boolean }[] };
    expect(check.isAdmin).toBe(true);
    expect(check.objects.every((o) => o.readable)).toBe(true);
  });

  it('check marks admin-only objects unreadable for a member token, with the reason', async () => {
    const result = await runCli(['check'], { ...env(), HARVEST_ACCESS_TOKEN: sim.memberToken });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/not an administrator/);
    expect(result.stdout).toMatch(/skipped roles\s+\(.*403/);
    expect(result.stdout).toMatch(/ok\s+time_entries/);
    expect(result.stdout).not.toContain(sim.memberToken);
  });

  it('a member token syncs what it may read and reports each skipped object', async () => {
    const result = await runCli(['run', '--destination', `sqlite:${db}`, '--json'], {
      ...env(),
      HARVEST_ACCESS_TOKEN: sim.memberToken,
    });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      objects: { object: string; status: string; reason?: string }[];
    };
    const roles = summary.objects.find((o) => o.object === 'roles')!;
    expect(roles.status).toBe('skipped');
    expect(roles.reason).toMatch(/403/);
    expect(summary.objects.find((o) => o.object === 'time_entries')!.status).toBe('succeeded');
    const sqlite = new Database(db, { readonly: true });
    const { n } = sqlite.prepare('SELECT count(*) AS n FROM time_entries').get() as { n: number };
    sqlite.close();
    expect(n).toBeGreaterThan(0);
  });

  it('discover --json describes every object with its key, cursor and typed columns', async () => {
    const result = await runCli(['discover', '--json']);
    expect(result.code).toBe(0);
    const catalog = JSON.parse(result.stdout) as {
      object: string;
      primaryKey: string;
      cursorField: string | null;
      report: boolean;
      inDefaultSet: boolean;
      tables: { table: string; columns: { name: string; type: string }[] }[];
    }[];
    expect(catalog.map((c) => c.object)).toEqual(OBJECTS.map((o) => o.name));
    // reports are marked, and out of the default set
    expect(
      catalog.filter((c) => c.report).every((c) => !c.inDefaultSet && c.object.startsWith('report_')),
    ).toBe(true);
    const invoices = catalog.find((c) => c.object === 'invoices')!;
    expect(invoices.tables.map((t) => t.table)).toEqual(['invoices', 'invoice_line_items']);
    expect(invoices.tables[0].columns).toContainEqual({ name: 'client_id', type: 'bigint' });
    expect(catalog.find((c) => c.object === 'roles')!.cursorField).toBeNull();
  });
});
