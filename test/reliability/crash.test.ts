import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrashLab, planPoints } from './support/crash.js';
import type { CrashOutcome, DestinationKind } from './support/crash.js';
import { snapshotDiff } from './support/snapshot.js';
import { seeded } from './support/world.js';

/**
 * Kill -9 at sampled points, resume, and compare with an uninterrupted run byte for byte. The full
 * sweep (≥ 50 distinct points per destination) runs in `npm run soak`; here a sample of each.
 */
const SAMPLE = 6;

describe.each<DestinationKind>(['sqlite', 'postgres', 'mysql'])('kill -9 into %s', (kind) => {
  let lab: CrashLab;
  beforeAll(async () => {
    lab = await CrashLab.start(kind);
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it(`resumes from ${SAMPLE} sampled kill points to exactly the tables and state of an uninterrupted run`, async () => {
    const points = await planPoints(lab, SAMPLE, seeded({ sqlite: 11, postgres: 12, mysql: 13 }[kind]));
    const outcomes: CrashOutcome[] = [];
    for (const point of points) outcomes.push(await lab.run(point));
    for (const outcome of outcomes) {
      expect({ key: outcome.key, diff: outcome.diff }).toEqual({ key: outcome.key, diff: null });
      expect(outcome.resumeStatus).toBe('succeeded');
    }
    // the sample hits distinct points, several of them with a pass to resume
    expect(new Set(outcomes.map((o) => o.key)).size).toBe(SAMPLE);
    expect(outcomes.filter((o) => o.resumedPass).length).toBeGreaterThanOrEqual(SAMPLE / 2);
    expect(new Set(outcomes.map((o) => o.point.mode)).size).toBe(3);
    // the comparison sees edits and deletion marks: the modes' references differ from each other
    const initial = await lab.referenceSnapshot('initial');
    expect(snapshotDiff(await lab.referenceSnapshot('incremental'), initial)).not.toBeNull();
    // three reference runs and six kill-and-resume rounds, each with a child process: ~30 s on a quiet machine
  }, 180_000);
});
