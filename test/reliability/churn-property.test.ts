import { describe, expect, it } from 'vitest';
import { churnSeed } from './support/churn.js';
import type { ChurnOutcome } from './support/churn.js';

/**
 * Harvest changing before every request of a windowed first load and of a full refresh (see
 * support/churn.ts): for every seed, no record Harvest has is marked deleted, and once Harvest is
 * quiet the next runs leave the replica exactly equal to it. `npm run soak` runs many more seeds
 * (SOAK_CHURN_SEEDS).
 */

const SEEDS = Number(process.env.CHURN_SEEDS ?? 25);

describe('Harvest changing before every request of a read', () => {
  it(`never marks a live record deleted, and the next runs are exact (${SEEDS} seeds)`, async () => {
    const outcomes: ChurnOutcome[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) outcomes.push(await churnSeed(seed));
    const problems = outcomes.flatMap((o) => o.problems.map((p) => `seed ${o.seed}: ${p}`));
    expect(problems).toEqual([]);
    // the property was tried where it matters: reads split into date windows, under real churn
    expect(outcomes.filter((o) => o.windowed).length).toBeGreaterThanOrEqual(Math.ceil(SEEDS / 3));
    expect(outcomes.every((o) => o.changes >= 10)).toBe(true);
  }, 120_000);
});
