import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { OBJECTS } from '../catalog/objects.js';
import { countsFor } from '../simulator/index.js';
import type { Counters } from '../simulator/types.js';
import { userMessage } from '../errors.js';
import { cpuSeconds, runScenario, startSimulatorProcess, stopChildren } from './children.js';
import type { SimulatorProcess } from './children.js';
import { BenchError } from './errors.js';
import type { PartTimes, RateLimitSpec, ScenarioReport, ScenarioSpec } from './protocol.js';
import { runFigures, ratios, summarise } from './repeat.js';
import type { RunFigures, RunSummary } from './repeat.js';
import { formatTable, makeRow, partsText } from './report.js';
import type { BenchRow, Target } from './report.js';
import { PER_PAGE as PAGE_SIZE, wholeNumberProblem } from '../limits.js';

/*
 * `npm run bench`: every figure of issues 2, 4 and 8 measured in one run beside its bound.
 * Layout and formulas: docs/benchmarks.md.
 */

const PARTS = ['sqlite', 'postgres', 'rate', 'incremental', 'limits'] as const;
type Part = (typeof PARTS)[number];

interface BenchOptions {
  readonly scale: number;
  readonly only: ReadonlySet<Part>;
  readonly out: string;
  readonly rate: RateLimitSpec;
  readonly rateScale: number;
  readonly ratePerPage: number;
  readonly limitsScale: number;
  readonly limitsLong: boolean;
  readonly pgUrl: string;
  readonly seed: number;
  readonly repeat: number;
}

/** Never holds an unthrottled run back: the simulator's speed is what is measured there. */
const UNLIMITED: RateLimitSpec = { requests: 1_000_000, windowMs: 1_000 };
const PER_PAGE = PAGE_SIZE.max;
const CHANGED_SHARE = 0.001;
/**
 * The objects the incremental row edits: each list of its own. A record listed per parent is changed
 * through its parent, the company is one record of the account, and reports are computed from the rest.
 */
const CHANGEABLE = OBJECTS.filter((o) => !o.parent && !o.singleton && !o.report);
/**
 * Response time the simulator adds in the slow-response rate rows: with one request at a time a
 * list then reads at most 1000/150 ≈ 6.7 pages a second, a third of the 20/s limit, so only
 * requests side by side (date windows) can reach the limit.
 */
const SLOW_RESPONSE_MS = 150;
/**
 * Harvest's documented limits (harvest-api-v2.md §4), each a budget of its own: the general API,
 * and the reports. The client's defaults are the same, so the `limits` row runs with default settings.
 */
const HARVEST_LIMITS = {
  general: { requests: 100, windowMs: 15_000 },
  reports: { requests: 100, windowMs: 15 * 60_000 },
} as const;
/**
 * `--limits-long`: report windows from this many years back (`--since`), so the reports need more
 * than their 100 calls (9 dated reports × 12 or 13 year windows) and the run waits out one window.
 */
const LONG_REPORT_YEARS = 12;
const TARGETS = {
  ratio: 0.85,
  sqliteRate: 20_000,
  postgresRate: 30_000,
  rssMb: 200,
  rateSlack: 1.05,
  tooHigh429Share: 0.01,
  limitsSlack: 1.1,
};

/** Bound and ours alternate this many times per engine (`--repeat`): the ratio is taken between medians. */
const DEFAULT_REPEAT = 3;
const MAX_REPEAT = 25;

const USAGE =
  'usage: npm run bench -- [--scale 100] [--only sqlite,postgres,rate,incremental] [--out bench-results/bench.json] ' +
  '[--rate 20/1] [--rate-scale 7] [--rate-per-page 100] [--limits-scale 1] [--limits-long] [--seed 1] [--repeat 3]';

function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scale: { type: 'string', default: '100' },
      only: { type: 'string', default: PARTS.join(',') },
      out: { type: 'string', default: 'bench-results/bench.json' },
      rate: { type: 'string', default: '20/1' },
      'rate-scale': { type: 'string' },
      'rate-per-page': { type: 'string', default: '100' },
      'limits-scale': { type: 'string', default: '1' },
      'limits-long': { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      repeat: { type: 'string', default: String(DEFAULT_REPEAT) },
    },
    strict: true,
  });
  const scale = Number(values.scale);
  if (!(scale > 0 && scale <= 1000)) throw new BenchError(`--scale must be a number above 0, at most 1000`);
  const only = new Set<Part>();
  for (const name of values.only.split(',').map((s) => s.trim())) {
    if (!(PARTS as readonly string[]).includes(name)) {
      throw new BenchError(`--only takes ${PARTS.join(', ')} (got "${name}")`);
    }
    only.add(name as Part);
  }
  const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values.rate);
  if (!m || Number(m[1]) < 1 || !(Number(m[2]) > 0))
    throw new BenchError('--rate must look like 20/1 (requests/seconds)');
  const rateScale = values['rate-scale'] === undefined ? Math.min(scale, 7) : Number(values['rate-scale']);
  if (!(rateScale > 0 && rateScale <= 1000)) throw new BenchError('--rate-scale must be a number above 0');
  const ratePerPage = Number(values['rate-per-page']);
  const perPageProblem = wholeNumberProblem(ratePerPage, PAGE_SIZE);
  if (perPageProblem !== null) throw new BenchError(`--rate-per-page ${perPageProblem}`);
  const limitsScale = Number(values['limits-scale']);
  if (!(limitsScale > 0 && limitsScale <= 1000))
    throw new BenchError('--limits-scale must be a number above 0');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new BenchError('--seed must be a whole number');
  const repeat = Number(values.repeat);
  if (!(Number.isInteger(repeat) && repeat >= 1 && repeat <= MAX_REPEAT))
    throw new BenchError(`--repeat must be a whole number from 1 to ${MAX_REPEAT}`);
  return {
    scale,
    only,
    out: values.out,
    rate: { requests: Number(m[1]), windowMs: Math.round(Number(m[2]) * 1000) },
    rateScale,
    ratePerPage,
    limitsScale,
    limitsLong: values['limits-long'],
    pgUrl: process.env.HARVEST_SYNC_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', // the same default as the tests'
    seed,
    repeat,
  };
}

const progress = (text: string): void => void process.stderr.write(`[bench] ${text}\n`);

/** The earliest the last of `calls` calls may start under `requests` per rolling `windowMs`: call k waits floor(k/requests) windows. */
export function minimumSeconds(calls: number, limit: RateLimitSpec): number {
  return calls <= 0 ? 0 : (Math.floor((calls - 1) / limit.requests) * limit.windowMs) / 1000;
}

const target = (text: string, pass: boolean): Target => ({ text, pass });

/** A SQLite file and its WAL companions. */
function removeSqlite(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

/** One measured scenario: its own report, the simulator's counters and CPU, the load it started under. */
interface Measured {
  readonly report: ScenarioReport;
  readonly counters: Counters;
  readonly simCpu: number | null;
  readonly load: number;
}

function figuresOf({ report, counters, simCpu, load }: Measured): RunFigures {
  return runFigures({
    records: report.records,
    seconds: report.seconds,
    calls: counters.total,
    rateLimited: counters.rateLimited,
    peakRssMb: report.maxRssMb,
    cpuSeconds: report.cpuSeconds,
    simulatorCpu: simCpu,
    loadAverage: load,
    ...(report.error !== undefined ? { error: report.error } : {}),
  });
}

/** The bound loop's part times of the run whose seconds are nearest the median (what the row shows). */
function partsNearestMedian(runs: readonly Measured[], seconds: number): PartTimes | undefined {
  const nearest = [...runs].sort(
    (a, b) => Math.abs(a.report.seconds - seconds) - Math.abs(b.report.seconds - seconds),
  )[0];
  return nearest?.report.parts;
}

/** The date `years` years before today (YYYY-MM-DD). */
function yearsAgo(years: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear() - years, now.getUTCMonth(), now.getUTCDate()))
    .toISOString()
    .slice(0, 10);
}

class Bench {
  readonly rows: BenchRow[] = [];
  /** The 1-minute load average when the last measured scenario started, recorded with its row. */
  private load = 0;
  /** Scenarios that started while other work kept the machine busy: their figures are lower than they should be. */
  readonly busyAtStart: string[] = [];
  private readonly tmp = mkdtempSync(join(tmpdir(), 'harvest-sync-bench-'));
  private readonly schemas: string[] = [];
  private schemaSeq = 0;
  /** Destinations holding a complete full load at the main scale, for the incremental runs. */
  private readonly loaded: Array<{ kind: 'sqlite' | 'postgres'; url: string }> = [];

  constructor(readonly options: BenchOptions) {}

  async run(): Promise<void> {
    const { only, scale, seed } = this.options;
    const counts = countsFor(scale);
    if (only.has('sqlite') || only.has('postgres') || only.has('incremental')) {
      progress(
        `starting the simulator: scale ${scale} (${counts.time_entries.toLocaleString('en-US')} time entries)`,
      );
      // pages served as first serialised: the source is then far faster than any loop that writes
      const sim = await startSimulatorProcess(scale, seed, true);
      try {
        if (only.has('sqlite') || only.has('postgres')) {
          await this.warmUp(sim);
          await this.sourceCeiling(sim);
        }
        if (only.has('sqlite')) await this.throughput(sim, 'sqlite');
        if (only.has('postgres')) await this.throughput(sim, 'postgres');
        if (only.has('incremental')) await this.incremental(sim);
      } finally {
        await sim.stop();
      }
    }
    if (only.has('rate')) await this.rateLimited();
    if (only.has('limits')) await this.harvestLimits();
  }

  async cleanup(): Promise<void> {
    rmSync(this.tmp, { recursive: true, force: true });
    if (this.schemas.length === 0) return;
    const client = new pg.Client({ connectionString: this.options.pgUrl });
    try {
      await client.connect();
      for (const schema of this.schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private newSqlite(name: string): string {
    return join(this.tmp, `${name}.db`);
  }

  /** Removes a destination no row reads again: a `sqlite:` URL's file, or a PostgreSQL schema (by name or URL). */
  private async discard(destination: string): Promise<void> {
    if (destination.startsWith('sqlite:')) {
      removeSqlite(destination.slice('sqlite:'.length));
      return;
    }
    const schema = destination.includes('://')
      ? (new URL(destination).searchParams.get('schema') ?? '')
      : destination;
    const at = this.schemas.indexOf(schema);
    if (at < 0) return;
    const client = new pg.Client({ connectionString: this.options.pgUrl });
    try {
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      this.schemas.splice(at, 1);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private newSchema(): string {
    const schema = `bench_${process.pid}_${++this.schemaSeq}`;
    this.schemas.push(schema);
    return schema;
  }

  private postgresUrl(schema: string): string {
    const url = new URL(this.options.pgUrl);
    url.searchParams.set('schema', schema);
    return url.toString();
  }

  /** Runs a scenario with the simulator's counters reset before, and its CPU time measured around it. */
  private async measure(sim: SimulatorProcess, label: string, spec: ScenarioSpec): Promise<Measured> {
    const load = loadavg()[0];
    this.load = load;
    progress(`${label}… (load average ${load.toFixed(1)} on ${cpus().length} cores)`);
    if (load > 1.5) this.busyAtStart.push(`${label}: ${load.toFixed(1)}`);
    await sim.control('POST', 'counters/reset');
    const cpuBefore = cpuSeconds(sim.pid);
    const report = await runScenario(spec);
    const cpuAfter = cpuSeconds(sim.pid);
    const counters = (await sim.control('GET', 'counters')) as Counters;
    const simCpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
    progress(
      `${label}: ${report.ok ? 'ok' : `FAILED (${report.error})`}, ${report.records.toLocaleString('en-US')} records in ${report.seconds.toFixed(1)} s, ${report.maxRssMb} MB`,
    );
    return { report, counters, simCpu, load };
  }

  /**
   * Fills the simulator's page cache with every page the measured loops ask for: the bound loop's
   * list and ours's (date windows and every object), each read once, unmeasured.
   */
  private async warmUp(sim: SimulatorProcess): Promise<void> {
    progress('warming the page cache: every page read once (not measured)…');
    const runs: ScenarioSpec[] = [
      {
        kind: 'bound',
        sim: sim.address,
        object: 'time_entries',
        perPage: PER_PAGE,
        target: { kind: 'none' },
      },
      {
        kind: 'ours',
        sim: sim.address,
        destination: `sqlite:${this.newSqlite('warm-up')}`,
        rateLimit: UNLIMITED,
      },
    ];
    for (const spec of runs) {
      const report = await runScenario(spec);
      if (!report.ok) throw new BenchError(`warming the page cache failed: ${report.error}`);
    }
    removeSqlite(this.newSqlite('warm-up'));
  }

  /** What the simulator and fetch + JSON.parse allow, with nothing written: the ceiling of every loop. */
  private async sourceCeiling(sim: SimulatorProcess): Promise<void> {
    const spec: ScenarioSpec = {
      kind: 'bound',
      sim: sim.address,
      object: 'time_entries',
      perPage: PER_PAGE,
      target: { kind: 'none' },
    };
    const { report, counters, simCpu } = await this.measure(sim, 'source: fetch + parse only', spec);
    this.push({
      id: 'source-ceiling',
      scenario: 'source: fetch + parse only (time_entries)',
      records: report.records,
      seconds: report.seconds,
      bound: null,
      ratio: null,
      calls: counters.total,
      rateLimited: counters.rateLimited,
      peakRssMb: report.maxRssMb,
      targets: [],
      cpu: { ours: report.cpuSeconds, simulator: simCpu },
      ...(report.parts ? { parts: report.parts } : {}),
      ...(report.error !== undefined ? { error: report.error } : {}),
    });
  }

  /**
   * Bound loop and ours on time entries alone, alternately `--repeat` times (the ratio, between
   * medians), a full refresh of ours's last destination, then ours on every object (RSS, total rate).
   */
  private async throughput(sim: SimulatorProcess, kind: 'sqlite' | 'postgres'): Promise<void> {
    const { repeat } = this.options;
    const destination = (name: string) =>
      kind === 'sqlite' ? `sqlite:${this.newSqlite(name)}` : this.postgresUrl(this.newSchema());
    const boundRuns: Measured[] = [];
    const oursRuns: Measured[] = [];
    let teUrl = '';
    // bound, ours, bound, ours, …: both see the same drift of the machine's load
    for (let i = 1; i <= repeat; i++) {
      const nth = repeat > 1 ? ` (run ${i} of ${repeat})` : '';
      const boundTarget =
        kind === 'sqlite'
          ? { kind: 'sqlite' as const, path: this.newSqlite(`bound-${i}`) }
          : { kind: 'postgres' as const, url: this.options.pgUrl, schema: this.newSchema() };
      boundRuns.push(
        await this.measure(sim, `${kind}: bound loop${nth}`, {
          kind: 'bound',
          sim: sim.address,
          object: 'time_entries',
          perPage: PER_PAGE,
          target: boundTarget,
        }),
      );
      // only the last ours destination is read again (the full refresh): the rest would only fill the disk
      await this.discard(boundTarget.kind === 'sqlite' ? `sqlite:${boundTarget.path}` : boundTarget.schema);
      if (teUrl !== '') await this.discard(teUrl);
      teUrl = destination(`ours-te-${i}`);
      oursRuns.push(
        await this.measure(sim, `${kind}: ours, time_entries${nth}`, {
          kind: 'ours',
          sim: sim.address,
          destination: teUrl,
          objects: ['time_entries'],
          rateLimit: UNLIMITED,
        }),
      );
    }
    const bound = summarise(boundRuns.map(figuresOf));
    const te = summarise(oursRuns.map(figuresOf));
    const { byRate: ratio, byCpu } = ratios(bound, te);
    const boundRate = bound.recordsPerSecond;
    const rss = (mb: number) => target(`RSS < ${TARGETS.rssMb} MB`, mb < TARGETS.rssMb);
    const median = repeat > 1 ? `, median of ${repeat}` : '';
    const parts = partsNearestMedian(boundRuns, bound.seconds);
    this.pushSummary(bound, {
      id: `${kind}-bound`,
      scenario: `${kind}: bound loop (time_entries${median})`,
      bound: null,
      ratio: null,
      ratioByCpu: null,
      targets: [],
      ...(parts ? { parts } : {}),
    });
    const minRate = kind === 'sqlite' ? TARGETS.sqliteRate : TARGETS.postgresRate;
    this.pushSummary(te, {
      id: `${kind}-ours-time-entries`,
      scenario: `${kind}: ours (time_entries${median})`,
      bound: { value: boundRate, unit: 'rec/s' },
      ratio,
      ratioByCpu: byCpu,
      targets: [
        target(`ours/bound ≥ ${TARGETS.ratio}`, ratio >= TARGETS.ratio),
        target(`≥ ${minRate.toLocaleString('en-US')} rec/s`, te.recordsPerSecond >= minRate),
        rss(te.peakRssMb),
      ],
    });

    const lastOurs = oursRuns[oursRuns.length - 1];
    if (lastOurs.report.ok) await this.refresh(sim, kind, teUrl, boundRate);

    const fullUrl = destination('ours-full');
    const full = await this.measure(sim, `${kind}: ours, full load of every object`, {
      kind: 'ours',
      sim: sim.address,
      destination: fullUrl,
      rateLimit: UNLIMITED,
    });
    if (full.report.ok) this.loaded.push({ kind, url: fullUrl });
    this.push({
      id: `${kind}-ours-full`,
      scenario: `${kind}: ours (full load, all objects)`,
      records: full.report.records,
      seconds: full.report.seconds,
      bound: null,
      ratio: null,
      calls: full.counters.total,
      rateLimited: full.counters.rateLimited,
      peakRssMb: full.report.maxRssMb,
      targets: [rss(full.report.maxRssMb)],
      cpu: { ours: full.report.cpuSeconds, simulator: full.simCpu },
      ...(full.report.error !== undefined ? { error: full.report.error } : {}),
    });
  }

  /**
   * A full refresh of the time entries just loaded, nothing changed in between: every row is read
   * again and comes back unchanged (compared, and only its `_synced_at` stamped). No target: the
   * ratio to the bound loop (which only inserts) shows what re-reading costs against a first load.
   */
  private async refresh(
    sim: SimulatorProcess,
    kind: 'sqlite' | 'postgres',
    url: string,
    boundRate: number,
  ): Promise<void> {
    const run = await this.measure(sim, `${kind}: ours, full refresh of time_entries`, {
      kind: 'ours',
      sim: sim.address,
      destination: url,
      objects: ['time_entries'],
      fullRefresh: true,
      rateLimit: UNLIMITED,
    });
    const rate = run.report.seconds > 0 ? run.report.records / run.report.seconds : 0;
    this.push({
      id: `${kind}-ours-refresh`,
      scenario: `${kind}: ours, full refresh, nothing changed (time_entries)`,
      records: run.report.records,
      seconds: run.report.seconds,
      bound: { value: boundRate, unit: 'rec/s' },
      ratio: boundRate > 0 ? rate / boundRate : 0,
      calls: run.counters.total,
      rateLimited: run.counters.rateLimited,
      peakRssMb: run.report.maxRssMb,
      targets: [],
      cpu: { ours: run.report.cpuSeconds, simulator: run.simCpu },
      ...(run.report.error !== undefined ? { error: run.report.error } : {}),
    });
  }

  /**
   * Edits 0.1 % of every object's records (at least one each) through the simulator, then runs
   * each fully loaded destination incrementally. Budget: 2 calls per object plus one per page of
   * changed records; an object listed per parent one call plus one per changed parent; a report or
   * the company one call.
   */
  private async incremental(sim: SimulatorProcess): Promise<void> {
    if (this.loaded.length === 0) {
      const url = `sqlite:${this.newSqlite('incremental-setup')}`;
      progress('incremental: full load to start from (not measured)…');
      const setup = await runScenario({
        kind: 'ours',
        sim: sim.address,
        destination: url,
        rateLimit: UNLIMITED,
      });
      if (!setup.ok) throw new BenchError(`the full load before the incremental run failed: ${setup.error}`);
      this.loaded.push({ kind: 'sqlite', url });
    }
    for (const { kind, url } of this.loaded) await this.unchanged(sim, kind, url);
    const ids = await this.idsToChange(this.loaded[0]);
    let changed = 0;
    let budget = 0;
    const queue: Array<[string, number]> = [];
    for (const spec of CHANGEABLE) {
      const list = ids.get(spec.name) ?? [];
      changed += list.length;
      budget += 2 + Math.ceil(list.length / PER_PAGE);
      for (const id of list) queue.push([spec.name, id]);
    }
    // an object listed per parent: its parents changed since the cursor (one call), then one call
    // under each of them; a report or the company: one call, as with nothing changed
    for (const spec of OBJECTS.filter((o) => !CHANGEABLE.includes(o))) {
      budget += spec.parent ? 1 + (ids.get(spec.parent.object)?.length ?? 0) : 1;
    }
    progress(`incremental: changing ${changed.toLocaleString('en-US')} records through the simulator…`);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          await sim.control('PATCH', `records/${item[0]}/${item[1]}`, {});
        }
      }),
    );
    for (const { kind, url } of this.loaded) {
      const run = await this.measure(sim, `incremental: ${kind}`, {
        kind: 'ours',
        sim: sim.address,
        destination: url,
        rateLimit: UNLIMITED,
      });
      const ratio = budget > 0 ? run.counters.total / budget : 0;
      this.push({
        id: `incremental-${kind}`,
        scenario: `${kind}: incremental after ${changed.toLocaleString('en-US')} changes`,
        records: run.report.records,
        seconds: run.report.seconds,
        bound: { value: budget, unit: 'calls max' },
        ratio,
        calls: run.counters.total,
        rateLimited: run.counters.rateLimited,
        peakRssMb: run.report.maxRssMb,
        targets: [
          target(`calls ≤ ${budget}`, run.counters.total <= budget),
          target(`all ${changed} changes read`, run.report.records >= changed),
          target(`RSS < ${TARGETS.rssMb} MB`, run.report.maxRssMb < TARGETS.rssMb),
        ],
        cpu: { ours: run.report.cpuSeconds, simulator: run.simCpu },
        ...(run.report.error !== undefined ? { error: run.report.error } : {}),
      });
    }
  }

  /** An incremental run with nothing changed since the full load: one call per object (and per running-timer list), under a second. */
  private async unchanged(sim: SimulatorProcess, kind: 'sqlite' | 'postgres', url: string): Promise<void> {
    const run = await this.measure(sim, `incremental, nothing changed: ${kind}`, {
      kind: 'ours',
      sim: sim.address,
      destination: url,
      rateLimit: UNLIMITED,
    });
    // one call per object, plus one for the running timers an incremental pass reads again (the
    // reports' first date was found by the full load and kept in their state: no probe)
    const budget = OBJECTS.length + OBJECTS.filter((o) => o.runningFilter !== undefined).length;
    this.push({
      id: `incremental-unchanged-${kind}`,
      scenario: `${kind}: incremental, nothing changed`,
      records: run.report.records,
      seconds: run.report.seconds,
      bound: { value: budget, unit: 'calls max' },
      ratio: run.counters.total / budget,
      calls: run.counters.total,
      rateLimited: run.counters.rateLimited,
      peakRssMb: run.report.maxRssMb,
      targets: [
        target(`calls ≤ ${budget}`, run.counters.total <= budget),
        target('< 1 s', run.report.seconds < 1),
      ],
      cpu: { ours: run.report.cpuSeconds, simulator: run.simCpu },
      ...(run.report.error !== undefined ? { error: run.report.error } : {}),
    });
  }

  /** Every 1000th id of each table (by id), or its first id when it holds fewer than 1000. */
  private async idsToChange(dest: {
    kind: 'sqlite' | 'postgres';
    url: string;
  }): Promise<Map<string, number[]>> {
    const every = Math.round(1 / CHANGED_SHARE);
    const sql = (table: string) =>
      `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM "${table}") AS t ` +
      `WHERE rn % ${every} = 0 OR rn = 1 ORDER BY id`;
    const pick = (found: number[], total: number) => (total >= every ? found.slice(1) : found.slice(0, 1));
    const ids = new Map<string, number[]>();
    if (dest.kind === 'sqlite') {
      const db = new Database(dest.url.slice('sqlite:'.length), { readonly: true });
      try {
        for (const spec of CHANGEABLE) {
          const total = db.prepare(`SELECT count(*) FROM "${spec.name}"`).pluck().get() as number;
          const found = db.prepare(sql(spec.name)).pluck().all() as number[];
          ids.set(spec.name, pick(found, total));
        }
      } finally {
        db.close();
      }
      return ids;
    }
    const url = new URL(dest.url);
    const schema = url.searchParams.get('schema') ?? 'harvest';
    url.searchParams.delete('schema');
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(`SET search_path TO "${schema}"`);
      for (const spec of CHANGEABLE) {
        const total = Number((await client.query(`SELECT count(*) AS n FROM "${spec.name}"`)).rows[0].n);
        const found = (await client.query(sql(spec.name))).rows.map((r: { id: string }) => Number(r.id));
        ids.set(spec.name, pick(found, total));
      }
    } finally {
      await client.end();
    }
    return ids;
  }

  /**
   * Full load against a simulator limiting to `rate`: once with the client configured the same, once
   * with it set twice too high. Smaller pages make enough calls for the limit to be what bounds the run.
   */
  private async rateLimited(): Promise<void> {
    const { rate, rateScale, ratePerPage, seed } = this.options;
    progress(
      `starting the simulator: scale ${rateScale}, limit ${rate.requests} per ${rate.windowMs / 1000} s`,
    );
    const sim = await startSimulatorProcess(rateScale, seed);
    try {
      const cases = [
        { id: 'rate-right', label: 'limit right', client: rate },
        { id: 'rate-2x', label: 'limit 2× too high', client: { ...rate, requests: rate.requests * 2 } },
      ];
      for (const c of cases) {
        // a fresh window for each case: nothing of the previous one counts against it
        await sim.control('PUT', 'rate-limit', { ...rate, variant: 'retry-after' });
        const { report, counters, simCpu } = await this.measure(sim, `rate: ${c.label}`, {
          kind: 'ours',
          sim: sim.address,
          destination: `sqlite:${this.newSqlite(c.id)}`,
          perPage: ratePerPage,
          rateLimit: c.client,
        });
        const accepted = counters.total - counters.rateLimited;
        const minimum = minimumSeconds(accepted, rate);
        const ratio = minimum > 0 ? report.seconds / minimum : 0;
        const share = counters.total > 0 ? counters.rateLimited / counters.total : 0;
        const targets =
          c.id === 'rate-right'
            ? [
                target(`≤ ${TARGETS.rateSlack} × minimum`, ratio <= TARGETS.rateSlack),
                target('no 429', counters.rateLimited === 0),
              ]
            : [target(`429s < ${TARGETS.tooHigh429Share * 100}% of calls`, share < TARGETS.tooHigh429Share)];
        this.pushRateRow(
          {
            id: c.id,
            scenario: `rate ${rate.requests}/${rate.windowMs / 1000}s: ${c.label} (client ${c.client.requests}/${c.client.windowMs / 1000}s)`,
            targets,
          },
          { report, counters, simCpu },
          minimum,
          ratio,
        );
      }
      // Slow responses: time entries alone, so one long list is what the limit has to be reached with.
      await sim.control('PUT', 'faults', { slowRate: 1, slowMs: SLOW_RESPONSE_MS });
      const slow = [
        { id: 'rate-slow-windows', label: 'date windows (default)', concurrency: undefined },
        { id: 'rate-slow-one-list', label: 'one request at a time (--concurrency 1)', concurrency: 1 },
      ];
      for (const c of slow) {
        await sim.control('PUT', 'rate-limit', { ...rate, variant: 'retry-after' });
        const { report, counters, simCpu } = await this.measure(sim, `rate, slow responses: ${c.label}`, {
          kind: 'ours',
          sim: sim.address,
          destination: `sqlite:${this.newSqlite(c.id)}`,
          objects: ['time_entries'],
          perPage: ratePerPage,
          rateLimit: rate,
          ...(c.concurrency !== undefined ? { concurrency: c.concurrency } : {}),
        });
        const minimum = minimumSeconds(counters.total - counters.rateLimited, rate);
        const ratio = minimum > 0 ? report.seconds / minimum : 0;
        // The limiter holds each slot until a window after the response (safe whatever the
        // latency), so with responses of L seconds it allows R calls per W + L: the best it can do
        // is (1 + L/W) × the minimum (+15% here at a 1 s window, +1% at Harvest's 15 s one).
        const latencyShare = 1 + SLOW_RESPONSE_MS / rate.windowMs;
        const targets =
          c.concurrency === undefined
            ? [
                target(
                  `≤ ${TARGETS.rateSlack} × (1 + latency/window) × minimum`,
                  ratio <= TARGETS.rateSlack * latencyShare,
                ),
                target('no 429', counters.rateLimited === 0),
              ]
            : [];
        this.pushRateRow(
          {
            id: c.id,
            scenario: `rate limit ${rate.requests}/${rate.windowMs / 1000}s, ${SLOW_RESPONSE_MS} ms responses, time entries: ${c.label}`,
            targets,
          },
          { report, counters, simCpu },
          minimum,
          ratio,
        );
      }
      await sim.control('PUT', 'faults', null);
    } finally {
      await sim.stop();
    }
  }

  /**
   * A full load of every object and every report, at Harvest's real limits on both sides (the
   * simulator refuses beyond them, the client is left at its defaults): no 429, and within 10 % of
   * the least time the two budgets allow for the calls each took.
   */
  private async harvestLimits(): Promise<void> {
    const { limitsScale, limitsLong, seed } = this.options;
    const { general, reports } = HARVEST_LIMITS;
    progress(
      `starting the simulator: scale ${limitsScale}, Harvest's limits (100 per 15 s, reports 100 per 15 min)`,
    );
    const sim = await startSimulatorProcess(limitsScale, seed);
    try {
      await sim.control('PUT', 'rate-limit', { ...general, variant: 'retry-after' });
      await sim.control('PUT', 'reports-rate-limit', { ...reports, variant: 'retry-after' });
      const since = limitsLong ? yearsAgo(LONG_REPORT_YEARS) : undefined;
      const measured = await this.measure(sim, `Harvest's limits: full load, every object and report`, {
        kind: 'ours',
        sim: sim.address,
        destination: `sqlite:${this.newSqlite('harvest-limits')}`,
        rateLimit: general,
        ...(since !== undefined ? { since } : {}),
      });
      const { counters } = measured;
      const reportCalls = Object.entries(counters.byPath)
        .filter(([path]) => path.startsWith('/v2/reports/'))
        .reduce((n, [, calls]) => n + calls, 0);
      const generalCalls = counters.total - reportCalls;
      const minimum = Math.max(minimumSeconds(generalCalls, general), minimumSeconds(reportCalls, reports));
      const ratio = minimum > 0 ? measured.report.seconds / minimum : 0;
      this.pushRateRow(
        {
          id: limitsLong ? 'harvest-limits-long' : 'harvest-limits',
          scenario: `Harvest's limits, every object and report${since ? ` since ${since}` : ''}: ${generalCalls} general calls (100/15 s), ${reportCalls} report calls (100/15 min)`,
          // an account too small to fill a window has no minimum to be held to
          targets: [
            ...(minimum > 0
              ? [target(`≤ ${TARGETS.limitsSlack} × minimum`, ratio <= TARGETS.limitsSlack)]
              : []),
            target('no 429', counters.rateLimited === 0),
          ],
        },
        measured,
        minimum,
        ratio,
      );
    } finally {
      await sim.stop();
    }
  }

  /** A rate-limit row: what was measured, against the least time the limit allows (`minimum`). */
  private pushRateRow(
    row: { id: string; scenario: string; targets: Target[] },
    measured: { report: ScenarioReport; counters: Counters; simCpu: number | null },
    minimum: number,
    ratio: number,
  ): void {
    const { id, scenario, targets } = row;
    const { report, counters, simCpu } = measured;
    this.push({
      id,
      scenario,
      records: report.records,
      seconds: report.seconds,
      bound: { value: minimum, unit: 's min' },
      ratio,
      calls: counters.total,
      rateLimited: counters.rateLimited,
      peakRssMb: report.maxRssMb,
      targets: [...targets, target(`RSS < ${TARGETS.rssMb} MB`, report.maxRssMb < TARGETS.rssMb)],
      cpu: { ours: report.cpuSeconds, simulator: simCpu },
      ...(report.error !== undefined ? { error: report.error } : {}),
    });
  }

  private push(row: Omit<BenchRow, 'pass' | 'recordsPerSecond' | 'cpuPerMillion' | 'loadAverage'>): void {
    this.rows.push(makeRow({ ...row, loadAverage: this.load }));
  }

  /** A row of medians; with more than one run, every run and the spread of seconds go with it. */
  private pushSummary(
    summary: RunSummary,
    row: Pick<BenchRow, 'id' | 'scenario' | 'bound' | 'ratio' | 'ratioByCpu' | 'targets' | 'parts'>,
  ): void {
    const repeated = summary.runs.length > 1;
    this.rows.push(
      makeRow({
        ...row,
        records: summary.records,
        seconds: summary.seconds,
        calls: summary.calls,
        rateLimited: summary.rateLimited,
        peakRssMb: summary.peakRssMb,
        cpu: { ours: summary.cpuSeconds, simulator: summary.simulatorCpu },
        loadAverage: summary.loadAverage,
        ...(summary.error !== undefined ? { error: summary.error } : {}),
        ...(repeated ? { runs: summary.runs, spread: summary.spread } : {}),
      }),
    );
  }

  /** Which part bounds each loop, from the bound loop's timers and the simulator's CPU time. */
  analysis(): string[] {
    const lines: string[] = [];
    for (const row of this.rows) {
      if (row.parts) lines.push(partsText(row.scenario, row.seconds, row.parts));
      const sim = row.cpu?.simulator;
      if (sim !== null && sim !== undefined && row.seconds > 0 && !row.id.startsWith('rate')) {
        lines.push(
          `${row.scenario}: simulator busy ${sim.toFixed(1)} s of ${row.seconds.toFixed(1)} s (${Math.round((100 * sim) / row.seconds)}% of one core)`,
        );
      }
    }
    for (const kind of ['sqlite', 'postgres']) {
      const bound = this.rows.find((r) => r.id === `${kind}-bound`);
      const ours = this.rows.find((r) => r.id === `${kind}-ours-time-entries`);
      if (bound?.spread && ours?.spread && ours.ratio !== null) lines.push(ratioText(kind, bound, ours));
    }
    const ceiling = this.rows.find((r) => r.id === 'source-ceiling');
    const writing = this.rows.filter((r) => /^(sqlite|postgres)-(bound|ours-time-entries)$/.test(r.id));
    const fastest = writing.sort((a, b) => b.recordsPerSecond - a.recordsPerSecond)[0];
    if (ceiling && fastest && fastest.recordsPerSecond > 0) {
      const times = ceiling.recordsPerSecond / fastest.recordsPerSecond;
      const sim = ceiling.cpu?.simulator;
      const served =
        sim !== null && sim !== undefined && sim > 0
          ? `; the simulator served them with ${sim.toFixed(1)} CPU s (${Math.round(ceiling.records / sim).toLocaleString('en-US')} records per CPU second), the rest is the client's fetch and JSON.parse`
          : '';
      lines.push(
        `source ceiling: ${Math.round(ceiling.recordsPerSecond).toLocaleString('en-US')} rec/s with nothing written, ${times.toFixed(1)}× the fastest loop that writes (${fastest.scenario})${served}`,
      );
    }
    return lines;
  }
}

/** The repeated time-entry rows of one engine in a line: both ratios, labelled, and each row's spread. */
function ratioText(kind: string, bound: BenchRow, ours: BenchRow): string {
  const spread = (r: BenchRow) =>
    r.spread ? `${r.spread.min.toFixed(1)}–${r.spread.max.toFixed(1)} s` : `${r.seconds.toFixed(1)} s`;
  const byCpu =
    ours.ratioByCpu === null || ours.ratioByCpu === undefined
      ? 'by CPU unknown'
      : `${ours.ratioByCpu.toFixed(2)} by CPU (bound CPU s/M ÷ ours CPU s/M, medians)`;
  return (
    `${kind}: ours/bound over ${ours.runs?.length ?? 1} interleaved runs each: ` +
    `${(ours.ratio ?? 0).toFixed(2)} by records/s (median ours ÷ median bound), ${byCpu}; ` +
    `bound ${spread(bound)}, ours ${spread(ours)}`
  );
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${userMessage(error)}\n${USAGE}\n`);
    return 2;
  }
  const bench = new Bench(options);
  const onSignal = () => {
    stopChildren();
    void bench.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  try {
    await bench.run();
  } catch (error) {
    process.stderr.write(`bench failed: ${userMessage(error)}\n`);
    stopChildren();
    await bench.cleanup().catch(() => undefined);
    return 1;
  }
  await bench.cleanup().catch((error: unknown) => progress(`cleanup: ${userMessage(error)}`));
  const analysis = bench.analysis();
  if (bench.busyAtStart.length > 0) {
    analysis.push(
      `warning: the machine was busy (1-min load average > 1.5) when these started, figures are pessimistic: ${bench.busyAtStart.join(', ')}`,
    );
  }
  process.stdout.write(`${formatTable(bench.rows)}\n\n${analysis.join('\n')}\n`);
  const result = {
    scale: options.scale,
    timeEntries: countsFor(options.scale).time_entries,
    rateLimit: options.rate,
    rateScale: options.rateScale,
    ratePerPage: options.ratePerPage,
    limitsScale: options.limitsScale,
    repeat: options.repeat,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    cores: cpus().length,
    rows: bench.rows,
    analysis,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  progress(`written ${options.out} (${result.seconds.toFixed(0)} s in all)`);
  return 0;
}

process.exitCode = await main();
