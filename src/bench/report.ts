import type { PartTimes } from './protocol.js';
import { summarise } from './repeat.js';
import type { RunFigures } from './repeat.js';

/** One target a figure is held to, and whether it met it. */
export interface Target {
  readonly text: string;
  readonly pass: boolean;
}

/** What a figure is compared with: records/s of the bound loop, the limit's minimum seconds, or a call budget. */
export interface Bound {
  readonly value: number;
  readonly unit: 'rec/s' | 's min' | 'calls max';
}

/** One line of the table (and one entry of the JSON). */
export interface BenchRow {
  readonly id: string;
  readonly scenario: string;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly bound: Bound | null;
  /** ours/bound for throughput, seconds/minimum under a rate limit, calls/budget for incremental runs. */
  readonly ratio: number | null;
  readonly calls: number;
  readonly rateLimited: number | null;
  readonly peakRssMb: number;
  readonly targets: readonly Target[];
  /** Null when the row has no target (a bound, a ceiling). */
  readonly pass: boolean | null;
  /** CPU seconds of the scenario's own process and of the simulator while it ran. */
  readonly cpu?: { readonly ours: number | null; readonly simulator: number | null };
  /** CPU seconds of the scenario's process per million records: what a host pays per million synced. */
  readonly cpuPerMillion: number | null;
  /** The machine's 1-minute load average when the scenario started. */
  readonly loadAverage?: number;
  readonly parts?: PartTimes;
  readonly error?: string;
  /**
   * A repeated row (`--repeat`): every run, in the order they ran. The row's own figures are then
   * their medians (peak RSS: the highest), `spread` their fastest and slowest seconds.
   */
  readonly runs?: readonly RunFigures[];
  readonly spread?: { readonly min: number; readonly max: number };
  /** ours/bound by CPU: bound CPU s/M ÷ ours CPU s/M (medians), beside `ratio` (by records/s). */
  readonly ratioByCpu?: number | null;
}

export function makeRow(row: Omit<BenchRow, 'pass' | 'recordsPerSecond' | 'cpuPerMillion'>): BenchRow {
  const cpu = row.cpu?.ours;
  const repeated = row.runs !== undefined && row.runs.length > 0 ? summarise(row.runs) : null;
  return {
    ...row,
    recordsPerSecond: repeated ? repeated.recordsPerSecond : row.seconds > 0 ? row.records / row.seconds : 0,
    cpuPerMillion: repeated
      ? repeated.cpuPerMillion
      : cpu !== null && cpu !== undefined && row.records > 0
        ? (cpu * 1e6) / row.records
        : null,
    pass:
      row.error !== undefined ? false : row.targets.length === 0 ? null : row.targets.every((t) => t.pass),
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number): string => n.toFixed(digits);

function boundText(bound: Bound | null): string {
  if (!bound) return '';
  if (bound.unit === 's min') return `${fixed(bound.value, 1)} s min`;
  return `${int(bound.value)} ${bound.unit}`;
}

const HEADERS = [
  'scenario',
  'records',
  'seconds',
  'min–max s',
  'records/s',
  'bound',
  'ratio',
  'ratio by CPU',
  'calls',
  '429s',
  'peak RSS MB',
  'CPU s/M',
  'load',
  'target',
  'result',
];
const RIGHT = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

/** The table as text: one line per row, columns padded. */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = rows.map((r) => [
    r.scenario,
    int(r.records),
    fixed(r.seconds, 1),
    r.spread ? `${fixed(r.spread.min, 1)}–${fixed(r.spread.max, 1)}` : '',
    int(r.recordsPerSecond),
    boundText(r.bound),
    r.ratio === null ? '' : fixed(r.ratio, 2),
    r.ratioByCpu === null || r.ratioByCpu === undefined ? '' : fixed(r.ratioByCpu, 2),
    int(r.calls),
    r.rateLimited === null ? '' : int(r.rateLimited),
    int(r.peakRssMb),
    r.cpuPerMillion === null ? '' : fixed(r.cpuPerMillion, 1),
    r.loadAverage === undefined ? '' : fixed(r.loadAverage, 1),
    r.error !== undefined ? `error: ${r.error}` : r.targets.map((t) => t.text).join('; '),
    r.pass === null ? '—' : r.pass ? 'pass' : 'FAIL',
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (RIGHT.has(i) ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join(' | ')
      .trimEnd();
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

/** Where the bound loop's time went, and so what limits a loop of that kind. */
export function partsText(label: string, seconds: number, parts: PartTimes): string {
  const entries: Array<[string, number]> = [
    ['waiting for pages', parts.fetchWait],
    ['JSON.parse', parts.parse],
    ['row mapping', parts.map],
    ['writes', parts.write],
  ];
  const [top] = [...entries].sort((a, b) => b[1] - a[1]);
  const list = entries.map(([name, s]) => `${name} ${fixed(s, 1)} s`).join(', ');
  return `${label}: ${fixed(seconds, 1)} s = ${list} (+ rest); largest: ${top[0]}`;
}
