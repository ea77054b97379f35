import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresControlStore } from '../../src/control/postgres-store.js';
import { SecretBox } from '../../src/control/secrets.js';
import type { ControlStore, Run } from '../../src/control/types.js';
import { startSimulatorAccounts } from '../../src/simulator/index.js';
import type { SimulatorAccounts } from '../../src/simulator/index.js';
import { runState } from '../support/waiting.js';
import { PG_URL } from './helpers.js';

/*
 * The scale-out acceptance: three `worker` processes and two `serve --no-worker` processes on one
 * PostgreSQL control store, twelve pipelines over four simulated Harvest accounts, hourly
 * schedules on a fast clock (an hour passes in HOUR_S real seconds). One worker is killed with
 * SIGKILL while it runs a pipeline; another resumes that run within the lost-after bound.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const HOUR_S = 20;
const SPEED = 3600 / HOUR_S;
const LOST_AFTER_S = 6;
const SECRET_KEY = randomBytes(32).toString('base64');
const API_TOKEN = randomBytes(32).toString('base64url');
const ACCOUNTS = ['8101', '8102', '8103', '8104'];
const OBJECTS = ['clients', 'contacts', 'projects', 'tasks', 'users', 'time_entries', 'expenses', 'invoices'];
/** The simulator's limit per account, and the budget the workers share per account: the same. */
const LIMIT = { requests: 10, windowMs: 2000 };

const id = randomBytes(4).toString('hex');
const schema = `hs_workers_${id}`;
const controlUrl = withParam(PG_URL, 'schema', schema);
const destSchemas: string[] = [];
const dirs: string[] = [];
const children: Proc[] = [];
let sims: SimulatorAccounts;
let store: ControlStore;
/** Pipeline names by id. */
const pipelines = new Map<number, string>();

function withParam(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exit: Promise<number | null>;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hs-workers-'));
  dirs.push(dir);
  return dir;
}

// every process (on "one host" here) may write the SQLite pipelines' files there and only there
const SQLITE_ROOT = tempDir();

const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  HARVEST_SYNC_SQLITE_ROOT: SQLITE_ROOT,
  HARVEST_SYNC_SECRET_KEY: SECRET_KEY,
  HARVEST_SYNC_API_TOKEN: API_TOKEN,
  HARVEST_SYNC_ADMIN_PASSWORD: 'workers e2e password ' + id,
  HARVEST_SYNC_FAST_CLOCK: `${Date.now()}:${SPEED}`,
  HARVEST_SYNC_ACCOUNT_RATE_LIMIT: `${LIMIT.requests}/${LIMIT.windowMs / 1000}`,
};

function start(
  name: string,
  args: string[],
  ready: (entry: Record<string, unknown>) => boolean,
): Promise<Proc> {
  const child = spawn(
    process.execPath,
    [MAIN, ...args, '--control-store', controlUrl, '--data-dir', tempDir()],
    {
      cwd: ROOT,
      env: ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const proc: Proc = { name, child, lines, exit };
  children.push(proc);
  child.stderr?.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  return new Promise((resolveStart, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('{') && ready(JSON.parse(line) as Record<string, unknown>)) resolveStart(proc);
    });
    void exit.then((code) => reject(new Error(`${name} exited (${code}):\n${lines.join('\n')}`)));
  });
}

const startWorker = (name: string) =>
  start(
    name,
    ['worker', '--lost-after', String(LOST_AFTER_S), '--allow-base-url', sims.url],
    (e) => e.msg === 'harvest-sync worker started',
  );
const startServe = (name: string) =>
  start(
    name,
    [
      'serve',
      '--no-worker',
      '--port',
      '0',
      '--lost-after',
      String(LOST_AFTER_S),
      '--allow-base-url',
      sims.url,
    ],
    (e) => e.msg === 'harvest-sync serve listening',
  );

async function until<T>(what: string, probe: () => Promise<T | null | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  sims = await startSimulatorAccounts({
    accounts: ACCOUNTS.map((accountId, i) => ({ accountId, seed: i + 1, scale: 0.02 })),
    rateLimit: { ...LIMIT, variant: 'retry-after' },
  });
  // the last account answers slowly now and then: its runs last long enough to be caught mid-way
  sims.account('8104').setFaults({ seed: 3, slowRate: 0.25, slowMs: 700 });
  store = await openPostgresControlStore({
    url: controlUrl,
    secrets: new SecretBox(Buffer.from(SECRET_KEY, 'base64')),
  });
  const sqliteDir = SQLITE_ROOT;
  for (let i = 0; i < 12; i++) {
    const account = ACCOUNTS[i % 4];
    const dest = `hs_workers_${id}_p${i}`;
    destSchemas.push(dest);
    await store.createPipeline({
      name: `p${i}`,
      token: `sim-admin-token-${account}`,
      accountId: account,
      // a SQLite file for every third pipeline: it runs on this host's queue
      destination: i % 3 === 2 ? `sqlite:${join(sqliteDir, `p${i}.db`)}` : withParam(PG_URL, 'schema', dest),
      objects: OBJECTS,
      frequencyHours: 1,
      since: null,
      fullRefreshHours: 24,
      baseUrl: sims.url,
      enabled: true,
    });
  }
  for (const p of await store.listPipelines()) pipelines.set(p.id, p.name);
}, 60_000);

afterAll(async () => {
  for (const proc of children) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await Promise.all(children.map((p) => p.exit));
  await store?.close();
  await sims?.stop();
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
  for (const dest of destSchemas) await sql(`DROP SCHEMA IF EXISTS "${dest}" CASCADE`);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function runsOf(): Promise<Run[]> {
  return store.listRuns({ limit: 1000 });
}

describe('three workers and two serve processes on one PostgreSQL control store', () => {
  it('runs every slot once, resumes a killed worker’s run elsewhere within the bound, and stays under every account’s limit', async () => {
    const serves = await Promise.all([startServe('serve-1'), startServe('serve-2')]);
    const workers = await Promise.all(['worker-1', 'worker-2', 'worker-3'].map(startWorker));

    // a run of the slow account in progress: kill its worker outright
    const victimRun = await until(
      'a run of the slow account in progress',
      async () => {
        const slow = ['p3', 'p7', 'p11'];
        const running = (await store.listRuns({ status: 'running', limit: 100 })).filter((r) =>
          slow.includes(pipelines.get(r.pipelineId) ?? ''),
        );
        return running.find((r) => r.totals.calls > 0) ?? null;
      },
      60_000,
    );
    const victim = workers.find((w) => victimRun.owner === `${hostname()}#${w.child.pid}`);
    expect(victim).toBeDefined();
    victim!.child.kill('SIGKILL');
    const killedAt = Date.now();
    const resumed = await until(
      'the killed run to resume on another worker',
      async () => {
        const again = (await runsOf()).find((r) => r.jobId === victimRun.jobId && r.id !== victimRun.id);
        return again ?? null;
      },
      (LOST_AFTER_S + 20) * 1000,
    );
    const resumeSeconds = (Date.now() - killedAt) / 1000;
    expect(resumeSeconds).toBeLessThan(LOST_AFTER_S + 5);
    expect(resumed.owner).not.toBe(victimRun.owner);
    // a serve process that runs nothing follows that worker's run to its end on its event stream
    const streamed: string[] = [];
    const followed = runState<Pick<Run, 'id' | 'status' | 'totals'>>(
      { url: urlOf(serves[0]), runId: resumed.id, headers: { authorization: `Bearer ${API_TOKEN}` } },
      (run) => {
        streamed.push(run.status);
        return run.status !== 'running';
      },
      180_000,
    ).then(
      (run) => ({ run }),
      (error: unknown) => ({ error }),
    );
    const interrupted = await store.getRun(victimRun.id);
    expect(interrupted?.status).toBe('interrupted');
    expect(interrupted?.error).toContain(victimRun.owner!);

    // let a few more hours pass, then pause everything and let the work in progress end
    await new Promise((r) => setTimeout(r, 3 * HOUR_S * 1000));
    for (const p of await store.listPipelines()) await store.updatePipeline(p.id, { enabled: false });
    await until(
      'the queues to empty',
      async () => {
        const busy = await sql(`SELECT 1 FROM "${schema}".run_jobs WHERE state IN ('queued', 'active')`);
        return busy.length === 0 ? true : null;
      },
      120_000,
    );

    const runs = await runsOf();
    const jobs = await sql<{
      id: string;
      pipeline_id: string;
      state: string;
      basis: string | null;
      note: string | null;
    }>(
      `SELECT id, pipeline_id, state, basis, note FROM "${schema}".run_jobs WHERE kind = 'slot' ORDER BY due_at`,
    );
    // every slot enqueued ran exactly once to its end (the killed one: interrupted, then resumed once)
    const done = jobs.filter((j) => j.state === 'done');
    expect(done.length).toBeGreaterThanOrEqual(12 * 2);
    for (const job of done) {
      const ofJob = runs.filter((r) => r.jobId === job.id);
      expect(ofJob.filter((r) => r.status !== 'interrupted')).toHaveLength(1);
      // only the killed worker's runs were cut short, each once
      expect(ofJob.filter((r) => r.status === 'interrupted').every((r) => r.owner === victimRun.owner)).toBe(
        true,
      );
      expect(ofJob.filter((r) => r.status === 'interrupted').length).toBeLessThanOrEqual(1);
    }
    // slots skipped only because the pipelines were paused at the end
    expect(jobs.filter((j) => j.state === 'skipped').every((j) => j.note === 'the pipeline is paused')).toBe(
      true,
    );
    // each slot counted from the start of the one before: none missed, none doubled
    for (const pipelineId of new Set(done.map((j) => Number(j.pipeline_id)))) {
      const slots = done.filter((j) => Number(j.pipeline_id) === pipelineId);
      for (let i = 1; i < slots.length; i++) {
        const before = runs
          .filter((r) => r.jobId === slots[i - 1].id)
          .map((r) => r.startedAt)
          .sort();
        expect(slots[i].basis).toBe(before[before.length - 1]);
      }
    }
    // anything else failed: its error says why
    expect(
      runs.filter((r) => r.status !== 'succeeded' && r.owner !== victimRun.owner).map((r) => r.error),
    ).toEqual([]);
    expect(
      runs.filter((r) => r.status === 'interrupted').every((r) => r.error?.includes(victimRun.owner!)),
    ).toBe(true);
    // never two runs of one pipeline at once
    for (const pipelineId of pipelines.keys()) {
      const spans = runs
        .filter((r) => r.pipelineId === pipelineId)
        .map((r) => [Date.parse(r.startedAt), Date.parse(r.finishedAt ?? r.startedAt)])
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    }
    // the resumed run ended exact: the destination holds what the account holds
    const resumedEnd = runs.find((r) => r.id === resumed.id)!;
    expect(resumedEnd.status).toBe('succeeded');
    expect(await followed).toEqual({
      run: expect.objectContaining({ id: resumed.id, status: 'succeeded', totals: resumedEnd.totals }),
    });
    // its state at once, then (unless it was over already) its progress, then its end
    expect(streamed.at(-1)).toBe('succeeded');
    expect(streamed.slice(0, -1).every((status) => status === 'running' || status === 'succeeded')).toBe(
      true,
    );
    await expectExact(resumedEnd.pipelineId);
    // no account ever saw more than its limit
    for (const account of ACCOUNTS) expect(sims.account(account).counters.rateLimited).toBe(0);

    // who ran what is visible: the API of either serve, and the CLI
    const listed = (await (
      await fetch(`${urlOf(serves[1])}/api/workers`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
      })
    ).json()) as { workers: Array<{ id: string; status: string; role: string }> };
    expect(listed.workers.filter((w) => w.role === 'worker' && w.status === 'running')).toHaveLength(2);
    expect(listed.workers.find((w) => w.id === victimRun.owner)?.status).toBe('lost');
    const cli = spawnSync(
      process.execPath,
      [MAIN, 'workers', 'list', '--json', '--control-store', controlUrl],
      {
        env: ENV,
        encoding: 'utf8',
      },
    );
    expect(cli.status).toBe(0);
    expect((JSON.parse(cli.stdout) as { workers: unknown[] }).workers).toHaveLength(5);
    const metrics = await (
      await fetch(`${urlOf(serves[0])}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/harvest_sync_workers\{status="lost"\} 1/);
    expect(metrics).toMatch(/harvest_sync_slot_start_delay_seconds\{quantile="0.99"\}/);

    // SIGTERM drains: the live workers exit cleanly
    for (const w of workers.filter((w) => w !== victim)) w.child.kill('SIGTERM');
    for (const w of workers.filter((w) => w !== victim)) expect(await w.exit).toBe(0);
  }, 240_000);
});

function urlOf(proc: Proc): string {
  for (const line of proc.lines) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'harvest-sync serve listening' && entry.url) return entry.url;
  }
  throw new Error(`${proc.name} has not said where it listens`);
}

/** The ids of every object in the pipeline's destination are those the simulated account serves. */
async function expectExact(pipelineId: number): Promise<void> {
  const pipeline = (await store.getPipeline(pipelineId))!;
  const sim = sims.account(pipeline.accountId);
  const secrets = await store.pipelineSecrets(pipelineId);
  for (const object of ['clients', 'projects', 'time_entries', 'invoices']) {
    const expected = [...sim.records(object)].map((r) => Number(r.id)).sort((a, b) => a - b);
    const got = await destinationIds(secrets.destinationUrl, object);
    expect(got, object).toEqual(expected);
  }
}

async function destinationIds(url: string, object: string): Promise<number[]> {
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db
        .prepare(`SELECT id FROM "${object}" WHERE _deleted_at IS NULL ORDER BY id`)
        .all() as Array<{ id: number }>;
      return rows.map((r) => Number(r.id));
    } finally {
      db.close();
    }
  }
  const dest = new URL(url).searchParams.get('schema')!;
  const rows = await sql<{ id: string }>(
    `SELECT id FROM "${dest}"."${object}" WHERE _deleted_at IS NULL ORDER BY id`,
  );
  return rows.map((r) => Number(r.id));
}
