import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgresControlStore } from '../control/postgres-store.js';
import { SecretBox } from '../control/secrets.js';
import { startSimulatorAccounts } from '../simulator/index.js';
import type { SimulatorAccounts } from '../simulator/index.js';

/*
 * Bench of the scale-out (issue 14): N pipelines at frequency 1 h, their slots spread over the
 * hour, run by 1 to 4 `harvest-sync worker` processes on one PostgreSQL control store, on a fast
 * clock (an hour passes in 3600/speed real seconds). For each worker count it prints the delay
 * between a slot's due time and its run's start (p50, p99, in real seconds), the runs finished per
 * real minute, and the control store's load (transactions and rows written per second, from
 * pg_stat_database). Not a test: it measures and prints a Markdown table.
 *
 *   node dist/bench/workers.js --pg postgres://postgres@127.0.0.1:5432/db \
 *     [--pipelines 1000] [--workers 1,2,3,4] [--speed 60] [--seconds 120] [--max-runs 2] [--accounts 20]
 */

interface Options {
  readonly pg: string;
  readonly pipelines: number;
  readonly workers: readonly number[];
  readonly speed: number;
  readonly seconds: number;
  readonly maxRuns: number;
  readonly accounts: number;
}

interface Row {
  readonly workers: number;
  readonly slotsStarted: number;
  readonly p50: number;
  readonly p99: number;
  readonly runsPerMinute: number;
  readonly failed: number;
  readonly xactPerSecond: number;
  readonly rowsWrittenPerSecond: number;
}

const MAIN = new URL('../cli/main.js', import.meta.url).pathname;

function options(): Options {
  const { values } = parseArgs({
    options: {
      pg: { type: 'string' },
      pipelines: { type: 'string', default: '1000' },
      workers: { type: 'string', default: '1,2,3,4' },
      speed: { type: 'string', default: '60' },
      seconds: { type: 'string', default: '120' },
      'max-runs': { type: 'string', default: '2' },
      accounts: { type: 'string', default: '20' },
    },
  });
  if (!values.pg) throw new Error('give --pg postgres://... (a database the bench may create schemas in)');
  return {
    pg: values.pg,
    pipelines: Number(values.pipelines),
    workers: values.workers.split(',').map(Number),
    speed: Number(values.speed),
    seconds: Number(values.seconds),
    maxRuns: Number(values['max-runs']),
    accounts: Number(values.accounts),
  };
}

function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** N pipelines of tiny accounts, created so that their slots fall due evenly over the hour. */
async function seed(
  o: Options,
  url: string,
  key: Buffer,
  sims: SimulatorAccounts,
  dir: string,
): Promise<void> {
  const store = await openPostgresControlStore({ url, secrets: new SecretBox(key) });
  try {
    for (let i = 0; i < o.pipelines; i++) {
      const account = sims.accounts[i % sims.accounts.length];
      await store.createPipeline({
        name: `bench-${i}`,
        token: account.adminToken,
        accountId: account.accountId,
        destination: `sqlite:${join(dir, `p${i}.db`)}`,
        objects: ['clients'],
        frequencyHours: 1,
        since: null,
        fullRefreshHours: 24,
        baseUrl: sims.url,
        enabled: true,
      });
    }
  } finally {
    await store.close();
  }
}

/** Spreads the pipelines' first slots over the coming hour of the fast clock. */
async function spread(client: pg.Client, schema: string, origin: number, n: number): Promise<void> {
  await client.query(
    `UPDATE "${schema}".pipelines SET created_at = to_char(
       (to_timestamp($1::bigint / 1000.0) + (id % $2) * ($3::float / $2) * interval '1 second') AT TIME ZONE 'UTC',
       'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    [origin, n, 3600],
  );
}

function startWorker(
  o: Options,
  env: NodeJS.ProcessEnv,
  url: string,
  dir: string,
  sims: string,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'worker',
      '--control-store',
      url,
      '--data-dir',
      mkdtempSync(join(dir, 'w-')),
      '--max-runs',
      String(o.maxRuns),
    ].concat(['--allow-base-url', sims, '--sqlite-root', dir]),
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"harvest-sync worker started"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}) before starting`)));
  });
}

async function dbStats(client: pg.Client): Promise<{ xact: number; written: number }> {
  const { rows } = await client.query<{ xact: string; written: string }>(
    `SELECT xact_commit + xact_rollback AS xact, tup_inserted + tup_updated + tup_deleted AS written
     FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { xact: Number(rows[0].xact), written: Number(rows[0].written) };
}

async function measure(o: Options, workers: number, sims: SimulatorAccounts): Promise<Row> {
  const schema = `hs_bench_workers_${randomBytes(4).toString('hex')}`;
  const url = withSchema(o.pg, schema);
  const key = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-workers-'));
  const client = new pg.Client({ connectionString: o.pg });
  await client.connect();
  const children: ChildProcess[] = [];
  try {
    await seed(o, url, key, sims, dir);
    const origin = Date.now();
    await spread(client, schema, origin, o.pipelines);
    const env = {
      ...process.env,
      HARVEST_SYNC_SECRET_KEY: key.toString('base64'),
      HARVEST_SYNC_FAST_CLOCK: `${origin}:${o.speed}`,
    };
    for (let i = 0; i < workers; i++) children.push(await startWorker(o, env, url, dir, sims.url));
    const before = await dbStats(client);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const after = await dbStats(client);
    const elapsed = (Date.now() - started) / 1000;
    const { rows } = await client.query<{ due_at: string; started_at: string }>(
      `SELECT due_at, started_at FROM "${schema}".run_jobs WHERE kind = 'slot' AND started_at IS NOT NULL`,
    );
    const delays = rows
      .map((r) => (Date.parse(r.started_at) - Date.parse(r.due_at)) / o.speed / 1000)
      .sort((a, b) => a - b);
    const runs = await client.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM "${schema}".runs WHERE status <> 'running' GROUP BY status`,
    );
    const count = (status?: string) =>
      runs.rows
        .filter((r) => status === undefined || r.status === status)
        .reduce((n, r) => n + Number(r.n), 0);
    return {
      workers,
      slotsStarted: rows.length,
      p50: quantile(delays, 0.5),
      p99: quantile(delays, 0.99),
      runsPerMinute: (count() / elapsed) * 60,
      failed: count('failed'),
      xactPerSecond: (after.xact - before.xact) / elapsed,
      rowsWrittenPerSecond: (after.written - before.written) / elapsed,
    };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))),
    );
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(o: Options, rows: readonly Row[]): string {
  const f = (n: number, d = 1) => (Number.isNaN(n) ? '-' : n.toFixed(d));
  return [
    `${o.pipelines} pipelines at 1 h, speed ×${o.speed} (an hour in ${f(3600 / o.speed, 0)} s), ${o.seconds} s per row, --max-runs ${o.maxRuns}, ${o.accounts} simulated accounts`,
    '',
    '| workers | slots started | delay p50 (s) | delay p99 (s) | runs / min | failed | store xact / s | store rows written / s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.slotsStarted} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.runsPerMinute)} | ${r.failed} | ${f(r.xactPerSecond)} | ${f(r.rowsWrittenPerSecond)} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const o = options();
  const sims = await startSimulatorAccounts({
    accounts: Array.from({ length: o.accounts }, (_, i) => ({
      accountId: String(9000 + i),
      seed: i + 1,
      scale: 0.002,
    })),
  });
  const rows: Row[] = [];
  try {
    for (const workers of o.workers) {
      rows.push(await measure(o, workers, sims));
      process.stderr.write(`measured ${workers} worker(s)\n`);
    }
  } finally {
    await sims.stop();
  }
  process.stdout.write(table(o, rows) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
