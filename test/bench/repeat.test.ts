import { describe, expect, it } from 'vitest';
import { median, ratios, runFigures, summarise } from '../../src/bench/repeat.js';

const run = (seconds: number, cpuSeconds: number | null, extra: { rss?: number; error?: string } = {}) =>
  runFigures({
    records: 10_000,
    seconds,
    calls: 5,
    rateLimited: 0,
    peakRssMb: extra.rss ?? 100,
    cpuSeconds,
    simulatorCpu: 0.1,
    loadAverage: seconds,
    ...(extra.error !== undefined ? { error: extra.error } : {}),
  });

describe('--repeat arithmetic', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('summarises runs: median seconds and records/s, the spread, the highest RSS, median CPU s/M', () => {
    const s = summarise([run(2, 0.4, { rss: 120 }), run(1, 0.2), run(4, 0.3)]);
    expect(s.seconds).toBe(2);
    expect(s.spread).toEqual({ min: 1, max: 4 });
    // median of 10,000, 5,000 and 2,500 records/s
    expect(s.recordsPerSecond).toBe(5_000);
    expect(s.peakRssMb).toBe(120);
    // 20, 30 and 40 CPU s per million records
    expect(s.cpuPerMillion).toBeCloseTo(30, 9);
    expect(s.runs).toHaveLength(3);
    expect(s.error).toBeUndefined();
  });

  it('with an even count, records/s is the median of the runs’ rates, not records ÷ median seconds', () => {
    const s = summarise([run(1, 0.1), run(4, 0.1)]);
    expect(s.seconds).toBe(2.5);
    expect(s.recordsPerSecond).toBe((10_000 + 2_500) / 2);
  });

  it('keeps a failed run’s error, and leaves CPU unknown only when no run measured it', () => {
    const s = summarise([run(1, null), run(2, null, { error: 'boom' })]);
    expect(s.error).toBe('boom');
    expect(s.cpuPerMillion).toBeNull();
    expect(() => summarise([])).toThrow();
  });

  it('gives ours/bound by records/s between medians, and by CPU as bound CPU s/M ÷ ours CPU s/M', () => {
    const bound = summarise([run(1, 0.2), run(2, 0.2), run(3, 0.2)]);
    const ours = summarise([run(2, 0.25), run(4, 0.25), run(2.5, 0.25)]);
    const r = ratios(bound, ours);
    // 4,000 ÷ 5,000 records/s (medians)
    expect(r.byRate).toBeCloseTo(0.8, 9);
    // 20 ÷ 25 CPU s per million records
    expect(r.byCpu).toBeCloseTo(0.8, 9);
    expect(ratios(bound, summarise([run(2, null)])).byCpu).toBeNull();
  });
});
