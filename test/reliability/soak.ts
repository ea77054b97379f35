/**
 * `npm run soak`: the long reliability runs, and the table for the README.
 *
 * 1. Scheduled soak: SOAK_RUNS (200) runs of one pipeline through the real Scheduler and runPipeline,
 *    the scheduler's clock moved one frequency per run, against a simulator that edits, creates and
 *    deletes records between runs, with faults on. At the end the destination must equal the source
 *    (deleted rows marked), the control store must hold every run, and memory must not grow.
 * 2. Kill -9 sweeps: at least SOAK_CRASH_POINTS (50) distinct points per destination (SQLite, PostgreSQL, MariaDB).
 * 3. The churn property (support/churn.ts) for SOAK_CHURN_SEEDS (200) seeds beyond those `npm test` runs.
 * 4. The fault matrix and destination faults (the vitest files), for their rows in the table.
 *
 * Prints the Markdown table and writes it to bench-results/reliability.md; exits 1 if anything failed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { openControl } from '../../src/control/open.js';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { runPipeline } from '../../src/control/pipeline-runner.js';
import { Scheduler } from '../../src/control/scheduler.js';
import type { Run } from '../../src/control/types.js';
import { parsePipelineCreate, parsePipelineUpdate } from '../../src/control/validation.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Faults } from '../../src/simulator/index.js';
import { expectedTables, project, readTable } from '../sync/support/sqlite-helpers.js';
import { churnSeed } from './support/churn.js';
import { CrashLab, planPoints } from './support/crash.js';
import type { CrashOutcome, DestinationKind } from './support/crash.js';
import { changeAccount, seeded } from './support/world.js';
import type { ChangeCounts } from './support/world.js';
import { TestClock } from '../support/clock.js';

const RUNS = Number(process.env.SOAK_RUNS ?? 200);
const CRASH_POINTS = Number(process.env.SOAK_CRASH_POINTS ?? 50);
const CHURN_SEEDS = Number(process.env.SOAK_CHURN_SEEDS ?? 200);
/** Seeds churn-property.test.ts runs in `npm test`: the soak starts after them. */
const CHURN_FIRST_SEED = 1000;
const FULL_REFRESH_EVERY = 10;
const SEED = 42;
const HOUR = 3_600_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Row {
  readonly scenario: string;
  readonly injected: string;
  readonly runs: string;
  readonly verified: string;
  readonly ok: boolean;
}
const rows: Row[] = [];
const problems: string[] = [];
const log = (line: string) => process.stdout.write(`${line}\n`);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

function check(ok: boolean, what: string): boolean {
  if (!ok) problems.push(what);
  return ok;
}

// --- 1. scheduled soak -------------------------------------------------------------------------

/** Low-rate faults for one run; a 429 burst every tenth run. Seeded by the run number. */
function faultsFor(run: number): Faults {
  return {
    seed: run,
    errorRate: 0.02,
    resetRate: 0.01,
    truncateRate: 0.01,
    invalidJsonRate: 0.01,
    ...(run % 10 === 5 ? { burst429: { count: 3, variant: 'retry-after' as const } } : {}),
  };
}

async function scheduledSoak(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-soak-'));
  const clock = new TestClock({ start: Date.parse('2026-05-01T00:00:00Z'), sleeps: 'ignore' });
  const sim = await startSimulator({ seed: SEED, scale: 0.02, rateLimit: null, clock });
  const { store } = await openControl({ dataDir, env: {}, clock });
  const changes: ChangeCounts = { edited: 0, created: 0, deleted: 0, lineItems: 0 };
  const rss: number[] = [];
  const heap: number[] = [];
  let faultRequests = 0;
  let requests = 0;
  let notDueTicks = 0;
  try {
    const pipeline = await store.createPipeline(
      parsePipelineCreate({
        name: 'soak',
        token: sim.adminToken,
        accountId: sim.accountId,
        destination: 'sqlite:replica.db',
        frequencyHours: 1,
        fullRefreshHours: FULL_REFRESH_EVERY,
        baseUrl: sim.url,
      }),
    );
    // The real scheduler and runner; only the sync's own waits (backoff, Retry-After, rate limit)
    // run on a clock that skips them, so 200 runs take minutes, not hours.
    const scheduler = new Scheduler({
      store,
      dataDir,
      clock,
      run: (pipelineId, { trigger, signal, onStarted }) =>
        runPipeline(store, pipelineId, {
          trigger,
          signal,
          dataDir,
          clock,
          baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }),
          syncClock: new TestClock({ realTime: true, sleeps: 'instant' }),
          onEvent: (event) => {
            if (event.type === 'run:started') onStarted(event.run);
          },
        }),
    });
    const started = Date.now();
    for (let i = 1; i <= RUNS; i++) {
      if (i > 1) {
        clock.advance(HOUR);
        const c = changeAccount(sim, SEED, i);
        changes.edited += c.edited;
        changes.created += c.created;
        changes.deleted += c.deleted;
        changes.lineItems += c.lineItems;
      }
      // The last run sweeps deletions whatever the cycle, so the end state can be compared exactly.
      if (i === RUNS) await store.updatePipeline(pipeline.id, parsePipelineUpdate({ fullRefreshHours: 1 }));
      sim.setFaults(faultsFor(i));
      sim.resetCounters();
      const ids = await scheduler.tick();
      check(
        ids.length === 1 && ids[0] === pipeline.id,
        `run ${i}: the scheduler did not start the due pipeline`,
      );
      const run = await scheduler.wait(pipeline.id);
      check(run?.status === 'succeeded', `run ${i} ended ${run?.status}: ${run?.error}`);
      const counters = sim.counters;
      requests += counters.total;
      faultRequests += Object.entries(counters.byStatus)
        .filter(([status]) => status !== '200')
        .reduce((n, [, count]) => n + count, 0);
      // not due again within the hour
      if ((await scheduler.tick()).length === 0) notDueTicks++;
      gc();
      gc();
      const memory = process.memoryUsage();
      rss.push(memory.rss);
      heap.push(memory.heapUsed);
      if (i % 20 === 0) {
        log(
          `soak: run ${i}/${RUNS}, ${Math.round((Date.now() - started) / 1000)} s, rss ${mb(memory.rss)}, heap ${mb(memory.heapUsed)}`,
        );
      }
    }
    await scheduler.stop();
    sim.setFaults(null);

    // the destination equals the source: every live row exact, every row gone from Harvest marked
    const path = join(dataDir, 'replica.db');
    let liveRows = 0;
    let deletedRows = 0;
    let exact = true;
    for (const spec of DEFAULT_OBJECTS) {
      const expected = expectedTables(spec, [...sim.records(spec.name)], sqliteEncoders);
      for (const [table, want] of Object.entries(expected)) {
        const all = readTable(path, table);
        const live = all.filter((r) => r._deleted_at === null);
        const same = JSON.stringify(project(live, want)) === JSON.stringify(want);
        exact = check(same, `soak: ${table} live rows differ from the source`) && exact;
        liveRows += live.length;
        deletedRows += all.length - live.length;
      }
    }

    const runs = await store.listRuns({ pipelineId: pipeline.id, limit: 1000 });
    const statuses = new Map<string, number>();
    for (const run of runs) statuses.set(run.status, (statuses.get(run.status) ?? 0) + 1);
    const fullRefreshes = runs.filter((r: Run) => r.fullRefresh).length;
    const expectedFull =
      Math.ceil((RUNS - 1) / FULL_REFRESH_EVERY) + ((RUNS - 1) % FULL_REFRESH_EVERY === 0 ? 0 : 1);
    const complete =
      check(runs.length === RUNS, `soak: the control store holds ${runs.length} runs, not ${RUNS}`) &&
      check(statuses.get('succeeded') === RUNS, `soak: statuses ${JSON.stringify([...statuses])}`) &&
      check(
        fullRefreshes === expectedFull,
        `soak: ${fullRefreshes} full refreshes, expected ${expectedFull}`,
      ) &&
      check(
        runs.every((r) => r.objects.length === DEFAULT_OBJECTS.length),
        'soak: a run lacks per-object statistics',
      );

    const n = Math.min(20, Math.floor(RUNS / 2));
    const rssFirst = mean(rss.slice(0, n));
    const rssLast = mean(rss.slice(-n));
    const heapFirst = mean(heap.slice(0, n));
    const heapLast = mean(heap.slice(-n));
    // Small margins: the source itself grows by the records created (the simulator is in this process).
    const steady =
      check(
        heapLast <= heapFirst * 1.15 + 4 * 1_048_576,
        `soak: heap grew from ${mb(heapFirst)} to ${mb(heapLast)}`,
      ) &&
      check(
        rssLast <= rssFirst * 1.15 + 16 * 1_048_576,
        `soak: RSS grew from ${mb(rssFirst)} to ${mb(rssLast)}`,
      );
    log(
      `soak: ${RUNS} runs in ${Math.round((Date.now() - started) / 1000)} s; rss first ${n} ${mb(rssFirst)} → last ${n} ${mb(rssLast)}; heap ${mb(heapFirst)} → ${mb(heapLast)}`,
    );

    rows.push({
      scenario: 'Scheduled soak (SQLite, Scheduler on a fake clock, 1 h frequency)',
      injected:
        `between runs ${changes.edited} edits, ${changes.created} creations, ${changes.deleted} hard deletions, ` +
        `${changes.lineItems} line-item replacements; per request 2% 5xx, 1% resets, 1% truncated, 1% invalid JSON, ` +
        `a 429 burst (Retry-After) every 10th run: ${faultRequests} faulted of ${requests} requests`,
      runs: `${RUNS} (${fullRefreshes} full refreshes)`,
      verified:
        `destination = source (${liveRows} live rows exact, ${deletedRows} rows marked deleted); ` +
        `control store holds ${runs.length} runs, ${statuses.get('succeeded') ?? 0} succeeded; not due again within the hour ${notDueTicks}/${RUNS}; ` +
        `RSS first-${n} ${mb(rssFirst)} → last-${n} ${mb(rssLast)}, heap ${mb(heapFirst)} → ${mb(heapLast)} after GC`,
      ok: exact && complete && steady,
    });
  } finally {
    await store.close();
    await sim.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// --- 2. kill -9 sweeps -----------------------------------------------------------------------

async function crashSweep(kind: DestinationKind): Promise<void> {
  const lab = await CrashLab.start(kind);
  const outcomes: CrashOutcome[] = [];
  const distinct = new Set<string>();
  const started = Date.now();
  try {
    for (let round = 0; distinct.size < CRASH_POINTS && round < 4; round++) {
      const points = await planPoints(
        lab,
        Math.ceil(CRASH_POINTS * 1.2),
        seeded(1000 * round + { sqlite: 1, postgres: 2, mysql: 3 }[kind]),
      );
      for (const point of points) {
        const outcome = await lab.run(point);
        outcomes.push(outcome);
        distinct.add(outcome.key);
        if (outcome.diff !== null) problems.push(`${outcome.key}: ${outcome.diff}`);
        if (outcomes.length % 10 === 0)
          log(`crash ${kind}: ${outcomes.length} kills, ${distinct.size} distinct points`);
        if (distinct.size >= CRASH_POINTS && outcomes.length >= CRASH_POINTS) break;
      }
    }
  } finally {
    await lab.stop();
  }
  const exact = outcomes.filter((o) => o.diff === null).length;
  const objects = new Set(outcomes.map((o) => o.object)).size;
  const midWrite = outcomes.filter((o) => o.point.phase === 'mid-write').length;
  const resumed = outcomes.filter((o) => o.resumedPass).length;
  check(distinct.size >= CRASH_POINTS, `crash ${kind}: only ${distinct.size} distinct points`);
  log(
    `crash ${kind}: ${outcomes.length} kills in ${Math.round((Date.now() - started) / 1000)} s, ${exact} exact`,
  );
  rows.push({
    scenario: `kill -9 mid-run, ${{ sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' }[kind]}`,
    injected:
      "SIGKILL right after the Nth committed batch, or 0–3 ms into the Nth batch's write (from a second thread); " +
      'in a first run, an incremental run and a full refresh after Harvest changed',
    runs: `${outcomes.length} kills at ${distinct.size} distinct points (${objects} objects; ${midWrite} mid-write; ${resumed} with a pass to resume)`,
    verified: `${exact}/${outcomes.length} resumed runs byte-for-byte equal to an uninterrupted run: every column but _synced_at, deletion marks, sync state (cursor, pass, last full pass)`,
    ok: exact === outcomes.length && distinct.size >= CRASH_POINTS,
  });
}

// --- 3. the churn property --------------------------------------------------------------------

async function churnProperty(): Promise<void> {
  const started = Date.now();
  let held = 0;
  let windowed = 0;
  let changes = 0;
  for (let seed = CHURN_FIRST_SEED; seed < CHURN_FIRST_SEED + CHURN_SEEDS; seed++) {
    const outcome = await churnSeed(seed);
    changes += outcome.changes;
    if (outcome.windowed) windowed++;
    if (outcome.problems.length === 0) held++;
    for (const problem of outcome.problems) problems.push(`churn seed ${seed}: ${problem}`);
    if ((seed - CHURN_FIRST_SEED + 1) % 20 === 0)
      log(`churn: ${seed - CHURN_FIRST_SEED + 1} seeds, ${held} held`);
  }
  log(`churn: ${CHURN_SEEDS} seeds in ${Math.round((Date.now() - started) / 1000)} s, ${held} held`);
  rows.push({
    scenario: 'Harvest changing before every request (churn property)',
    injected:
      'time entries created, deleted and moved to another date (also far before the oldest and after the newest) before each request of a windowed first load and of a full refresh',
    runs: `${CHURN_SEEDS} seeds (${windowed} read as date windows), ${changes} changes`,
    verified: `${held}/${CHURN_SEEDS} seeds: no live record ever marked deleted; the next incremental run stores every record as Harvest has it; the next full refresh is exact`,
    ok: held === CHURN_SEEDS,
  });
}

// --- 4. the vitest reliability files ---------------------------------------------------------

interface VitestJson {
  testResults: Array<{
    name: string;
    assertionResults: Array<{ title: string; status: string; duration?: number }>;
  }>;
}

function vitestRows(): void {
  const out = join(mkdtempSync(join(tmpdir(), 'hs-soak-vitest-')), 'results.json');
  const files = [
    'test/reliability/faults.test.ts',
    'test/reliability/destination-faults.test.ts',
    'test/reliability/serve-sigterm.test.ts',
  ];
  const result = spawnSync('npx', ['vitest', 'run', ...files, '--reporter=json', `--outputFile=${out}`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  let report: VitestJson;
  try {
    report = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  } catch {
    check(false, `the fault tests did not run: ${result.stderr.slice(0, 500)}`);
    return;
  }
  // Test titles read `injected: verdict`.
  for (const file of report.testResults) {
    const destination = file.name.includes('destination-faults');
    const serve = file.name.includes('serve-sigterm');
    for (const test of file.assertionResults) {
      const ok = check(test.status === 'passed', `${test.title}: ${test.status}`);
      const split = test.title.indexOf(': ');
      rows.push({
        scenario: serve
          ? 'SIGTERM to `harvest-sync serve`'
          : destination
            ? 'Destination fault'
            : 'Harvest fault (full refresh after changes)',
        injected: test.title.slice(0, split),
        runs: '1 faulted + 1 clean',
        verified:
          test.title.slice(split + 2) +
          (destination || serve ? '' : '; bounded in wall time and in requests (simulator counter)'),
        ok,
      });
    }
  }
}

// --- main --------------------------------------------------------------------------------------

const cell = (text: string) => text.replace(/\|/g, '\\|');
const started = Date.now();
await scheduledSoak();
await crashSweep('sqlite');
await crashSweep('postgres');
await crashSweep('mysql');
await churnProperty();
vitestRows();
const table = [
  '| scenario | injected | runs | verified |',
  '| --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${cell(r.scenario)}${r.ok ? '' : ' **FAILED**'} | ${cell(r.injected)} | ${cell(r.runs)} | ${cell(r.verified)} |`,
  ),
].join('\n');
const markdown = `# Reliability (npm run soak)\n\nMeasured ${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - started) / 1000)} s in all.\n\n${table}\n`;
log(`\n${table}\n`);
mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
writeFileSync(join(ROOT, 'bench-results', 'reliability.md'), markdown);
if (problems.length > 0) {
  log(`${problems.length} problem(s):\n${problems.slice(0, 30).join('\n')}`);
  process.exitCode = 1;
} else log('soak: every check passed');
