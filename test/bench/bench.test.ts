import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** The built bench, as `npm run bench` runs it (`npm test` builds first). */
const BENCH = fileURLToPath(new URL('../../dist/bench/bench.js', import.meta.url));

interface Row {
  id: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  bound: { value: number; unit: string } | null;
  ratio: number | null;
  calls: number;
  rateLimited: number | null;
  peakRssMb: number;
  targets: Array<{ text: string; pass: boolean }>;
  pass: boolean | null;
  cpuPerMillion: number | null;
  loadAverage?: number;
  error?: string;
  runs?: Array<{ records: number; seconds: number; recordsPerSecond: number; cpuPerMillion: number | null }>;
  spread?: { min: number; max: number };
  ratioByCpu?: number | null;
}

const middle = (values: number[]): number => {
  const [a, b] = [...values].sort((x, y) => x - y);
  return (a + b) / 2;
};

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench at a tiny scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every scenario and writes the table it prints as JSON', async () => {
    const out = join(dir, 'bench.json');
    // every part but `limits`, which runs at Harvest's real limits (its own test below)
    const only = 'sqlite,postgres,rate,incremental';
    const { code, stdout, stderr } = await run([
      '--scale',
      '0.05',
      '--rate',
      '40/1',
      '--only',
      only,
      '--repeat',
      '2',
      '--out',
      out,
    ]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { timeEntries: number; rows: Row[] };
    const ids = result.rows.map((r) => r.id);
    expect(ids).toEqual([
      'source-ceiling',
      'sqlite-bound',
      'sqlite-ours-time-entries',
      'sqlite-ours-refresh',
      'sqlite-ours-full',
      'postgres-bound',
      'postgres-ours-time-entries',
      'postgres-ours-refresh',
      'postgres-ours-full',
      'incremental-unchanged-sqlite',
      'incremental-unchanged-postgres',
      'incremental-sqlite',
      'incremental-postgres',
      'rate-right',
      'rate-2x',
      'rate-slow-windows',
      'rate-slow-one-list',
    ]);
    for (const row of result.rows) {
      expect(row.error, row.id).toBeUndefined();
      expect(row.seconds, row.id).toBeGreaterThan(0);
      expect(row.calls, row.id).toBeGreaterThan(0);
      expect(row.peakRssMb, row.id).toBeGreaterThan(10);
      expect(row.peakRssMb, row.id).toBeLessThan(2000);
      // a repeated row's records/s is the median of its runs' (below), not records ÷ median seconds
      if (row.runs === undefined)
        expect(row.recordsPerSecond, row.id).toBeCloseTo(row.records / row.seconds, 3);
      // what a host pays: CPU seconds per million records, and the load the figure was taken under
      if (row.records > 0) expect(row.cpuPerMillion, row.id).toBeGreaterThan(0);
      expect(row.loadAverage, row.id).toBeGreaterThanOrEqual(0);
      // the table on stdout carries every row
      expect(stdout).toContain(row.id.startsWith('rate') ? 'limit' : row.id.split('-')[0]);
    }
    // the source's own ceiling is printed beside the loops that write
    expect(stdout).toMatch(
      /source ceiling: [\d,]+ rec\/s with nothing written, [\d.]+× the fastest loop that writes/,
    );
    const byId = new Map(result.rows.map((r) => [r.id, r]));
    // time entries alone: exactly the simulator's count, in both the bound loop and ours
    for (const id of [
      'source-ceiling',
      'sqlite-bound',
      'sqlite-ours-time-entries',
      'postgres-ours-time-entries',
    ]) {
      expect(byId.get(id)?.records, id).toBe(result.timeEntries);
    }
    const ratio = byId.get('sqlite-ours-time-entries');
    expect(ratio?.bound?.unit).toBe('rec/s');
    expect(ratio?.ratio).toBeCloseTo((ratio?.recordsPerSecond ?? 0) / (ratio?.bound?.value ?? 1), 6);
    // --repeat 2: bound and ours ran twice each per engine; each row holds its runs and their medians
    const repeated = [
      'sqlite-bound',
      'sqlite-ours-time-entries',
      'postgres-bound',
      'postgres-ours-time-entries',
    ];
    expect(result.rows.filter((r) => r.runs !== undefined).map((r) => r.id)).toEqual(repeated);
    for (const kind of ['sqlite', 'postgres']) {
      const bound = byId.get(`${kind}-bound`) as Row;
      const ours = byId.get(`${kind}-ours-time-entries`) as Row;
      for (const row of [bound, ours]) {
        const runs = row.runs ?? [];
        expect(runs, row.id).toHaveLength(2);
        for (const r of runs) expect(r.records, row.id).toBe(result.timeEntries);
        expect(row.seconds, row.id).toBeCloseTo(middle(runs.map((r) => r.seconds)), 9);
        expect(row.recordsPerSecond, row.id).toBeCloseTo(middle(runs.map((r) => r.recordsPerSecond)), 6);
        expect(row.spread, row.id).toEqual({
          min: Math.min(...runs.map((r) => r.seconds)),
          max: Math.max(...runs.map((r) => r.seconds)),
        });
        expect(row.cpuPerMillion, row.id).toBeCloseTo(middle(runs.map((r) => r.cpuPerMillion ?? 0)), 6);
      }
      expect(ours.bound?.value, kind).toBeCloseTo(bound.recordsPerSecond, 6);
      expect(ours.ratio, kind).toBeCloseTo(ours.recordsPerSecond / bound.recordsPerSecond, 6);
      expect(ours.ratioByCpu, kind).toBeCloseTo((bound.cpuPerMillion ?? 0) / (ours.cpuPerMillion ?? 1), 6);
      expect(stdout).toContain(
        `${kind}: ours/bound over 2 interleaved runs each: ${(ours.ratio ?? 0).toFixed(2)} by records/s`,
      );
    }
    // the rows that stay single carry no runs
    expect(byId.get('sqlite-ours-refresh')?.runs).toBeUndefined();
    // an incremental run reads far fewer records than the full load it follows
    const full = byId.get('sqlite-ours-full')?.records ?? 0;
    expect(byId.get('incremental-sqlite')?.records).toBeGreaterThan(0);
    expect(byId.get('incremental-sqlite')?.records).toBeLessThan(full / 2);
    expect(byId.get('incremental-sqlite')?.bound?.unit).toBe('calls max');
    // nothing changed: one call per object, and only the records of the cursor's overlap read again
    for (const id of ['incremental-unchanged-sqlite', 'incremental-unchanged-postgres']) {
      expect(byId.get(id)?.records, id).toBeLessThan(10);
      expect(byId.get(id)?.calls, id).toBe(byId.get(id)?.bound?.value);
    }
    expect(byId.get('rate-right')?.bound?.unit).toBe('s min');
    expect(byId.get('rate-right')?.records).toBe(full);
    // slow responses: read as date windows or as one list, the same time entries arrive
    expect(byId.get('rate-slow-windows')?.records).toBeGreaterThan(0);
    expect(byId.get('rate-slow-windows')?.records).toBe(byId.get('rate-slow-one-list')?.records);
  }, 60_000);

  it('measures a full load of every object and report at Harvest’s limits, calls counted per budget', async () => {
    const out = join(dir, 'limits.json');
    // a tiny account: under 100 calls of each budget, so nothing waits and the minimum is 0 s
    const { code, stdout, stderr } = await run(['--only', 'limits', '--limits-scale', '0.05', '--out', out]);
    expect(code, stderr).toBe(0);
    const { rows } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[] };
    expect(rows.map((r) => r.id)).toEqual(['harvest-limits']);
    const [row] = rows;
    expect(row.error).toBeUndefined();
    expect(row.rateLimited).toBe(0);
    expect(row.bound).toEqual({ value: 0, unit: 's min' });
    expect(row.targets.map((t) => t.text)).toEqual(['no 429', 'RSS < 200 MB']);
    const m = /(\d+) general calls \(100\/15 s\), (\d+) report calls \(100\/15 min\)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    const [general, reports] = [Number(m?.[1]), Number(m?.[2])];
    // 9 dated reports over three years of history (3 or 4 year windows each), plus the project budget
    expect(reports).toBeGreaterThanOrEqual(9 * 3 + 1);
    expect(reports).toBeLessThanOrEqual(9 * 4 + 1);
    expect(general + reports).toBe(row.calls);
  }, 120_000);

  it('refuses a bad flag with a one-line message and exit code 2', async () => {
    const { code, stderr } = await run(['--scale', 'lots']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^--scale must be a number/);
    expect(stderr).not.toMatch(/\n\s+at /);
    for (const bad of ['0', '1.5', 'many']) {
      const repeat = await run(['--repeat', bad]);
      expect(repeat.code, bad).toBe(2);
      expect(repeat.stderr, bad).toMatch(/^--repeat must be a whole number from 1 to \d+\n/);
    }
  });
});
