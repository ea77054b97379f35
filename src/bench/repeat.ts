/*
 * `--repeat N`: the bound loop and ours run alternately N times on the same engine, so both see the
 * same drift of the machine's load; a row then shows the median of its runs, and the ratio is taken
 * between medians. Pure functions, so the arithmetic is tested without running anything.
 */

/** One measured run of a repeated row, as the JSON keeps it. */
export interface RunFigures {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly calls: number;
  readonly rateLimited: number;
  readonly peakRssMb: number;
  /** CPU seconds of the scenario's process; null when it could not be read. */
  readonly cpuSeconds: number | null;
  readonly simulatorCpu: number | null;
  readonly cpuPerMillion: number | null;
  readonly loadAverage: number;
  readonly error?: string;
}

/** What a repeated row shows: medians of its runs, the spread of seconds, the highest RSS. */
export interface RunSummary extends Omit<RunFigures, 'error'> {
  readonly runs: readonly RunFigures[];
  readonly spread: { readonly min: number; readonly max: number };
  /** The first run's error, if any run failed. */
  readonly error?: string;
}

/** The median; with an even count, the mean of the middle two. NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of the values that were measured; null when none was. */
function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : median(known);
}

/** One run's figures, with records/s and CPU s per million records derived. */
export function runFigures(run: Omit<RunFigures, 'recordsPerSecond' | 'cpuPerMillion'>): RunFigures {
  return {
    ...run,
    recordsPerSecond: run.seconds > 0 ? run.records / run.seconds : 0,
    cpuPerMillion: run.cpuSeconds !== null && run.records > 0 ? (run.cpuSeconds * 1e6) / run.records : null,
  };
}

export function summarise(runs: readonly RunFigures[]): RunSummary {
  if (runs.length === 0) throw new Error('summarise: no runs');
  const seconds = runs.map((r) => r.seconds);
  const error = runs.find((r) => r.error !== undefined)?.error;
  return {
    runs,
    records: median(runs.map((r) => r.records)),
    seconds: median(seconds),
    spread: { min: Math.min(...seconds), max: Math.max(...seconds) },
    recordsPerSecond: median(runs.map((r) => r.recordsPerSecond)),
    calls: median(runs.map((r) => r.calls)),
    rateLimited: median(runs.map((r) => r.rateLimited)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    cpuSeconds: medianOrNull(runs.map((r) => r.cpuSeconds)),
    simulatorCpu: medianOrNull(runs.map((r) => r.simulatorCpu)),
    cpuPerMillion: medianOrNull(runs.map((r) => r.cpuPerMillion)),
    loadAverage: median(runs.map((r) => r.loadAverage)),
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * ours/bound two ways: by throughput, median(ours records/s) ÷ median(bound records/s) (the target's
 * figure), and by CPU, bound CPU s/M ÷ ours CPU s/M (medians; null when either is unknown), which
 * the machine's load moves less.
 */
export function ratios(
  bound: RunSummary,
  ours: RunSummary,
): { readonly byRate: number; readonly byCpu: number | null } {
  const byRate = bound.recordsPerSecond > 0 ? ours.recordsPerSecond / bound.recordsPerSecond : 0;
  const byCpu =
    bound.cpuPerMillion !== null && ours.cpuPerMillion !== null && ours.cpuPerMillion > 0
      ? bound.cpuPerMillion / ours.cpuPerMillion
      : null;
  return { byRate, byCpu };
}
