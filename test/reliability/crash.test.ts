import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrashLab, planPoints } from './support/crash.js';
import type { CrashMode, CrashOutcome, CrashPoint, DestinationKind, KillPhase } from './support/crash.js';
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

/**
 * The objects without a list of their own: listed per parent (messages carry their recipients as a
 * child table), the company (one record) and reports (windows replaced by key). One at a time, so
 * the uninterrupted run tells which batch belongs to which object and every point is aimed.
 */
const NEW_OBJECTS = [
  'invoice_messages',
  'invoice_payments',
  'company',
  'report_time_projects',
  'report_project_budget',
];

describe.each<DestinationKind>(['sqlite', 'postgres', 'mysql'])(
  'kill -9 inside per-parent objects, the company and a report, into %s',
  (kind) => {
    let lab: CrashLab;
    beforeAll(async () => {
      lab = await CrashLab.start(kind, { objects: NEW_OBJECTS, concurrency: 1 });
    });
    afterAll(async () => {
      await lab?.stop();
    });

    /** The point at the `nth` batch (0-based, the last if fewer) of `object` in a run of `mode`. */
    async function at(mode: CrashMode, object: string, nth: number, phase: KillPhase): Promise<CrashPoint> {
      const order = await lab.batchObjects(mode);
      const batches = order.flatMap((o, i) => (o === object ? [i + 1] : []));
      expect(batches.length, `${mode}: batches of ${object}`).toBeGreaterThan(0);
      const killAfter = batches[Math.min(nth, batches.length - 1)];
      return { mode, killAfter, phase, ...(phase === 'mid-write' ? { delayUs: 500 } : {}) };
    }

    it('resumes from kills in each of them to exactly the tables and state of an uninterrupted run', async () => {
      const aims: Array<[CrashMode, string, number, KillPhase]> = [
        ['initial', 'invoice_messages', 0, 'mid-write'],
        ['incremental', 'invoice_payments', 0, 'after-commit'],
        ['incremental', 'company', 0, 'mid-write'],
        ['full-refresh', 'report_time_projects', 1, 'after-commit'],
        ['full-refresh', 'report_time_projects', 2, 'mid-write'],
      ];
      const outcomes: CrashOutcome[] = [];
      for (const [mode, object, nth, phase] of aims) {
        const outcome = await lab.run(await at(mode, object, nth, phase));
        expect(outcome.object, outcome.key).toBe(object);
        outcomes.push(outcome);
      }
      for (const outcome of outcomes) {
        expect({ key: outcome.key, diff: outcome.diff }).toEqual({ key: outcome.key, diff: null });
        expect(outcome.resumeStatus).toBe('succeeded');
      }
      // a report killed between its windows resumes its pass rather than starting over
      expect(outcomes[3].resumedPass).toBe(true);
    }, 240_000);
  },
);
