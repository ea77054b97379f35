import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentOwner } from '../../src/control/run-owner.js';
import { Scheduler } from '../../src/control/scheduler.js';
import type { PipelineRunFn } from '../../src/control/scheduler.js';
import type { Run, RunStatus } from '../../src/control/types.js';
import { STORE_KINDS, makeStore, pipelineInput } from './helpers.js';
import { TestClock } from '../support/clock.js';
import type { StoreFixture } from './helpers.js';

const HOUR = 3_600_000;

/**
 * A stand-in for runPipeline that records real run rows on the fake clock and ends each run when the
 * test says so (or when aborted), so timing and overlap can be checked without syncing anything.
 */
class FakeRuns {
  readonly started: Run[] = [];
  readonly #finishers = new Map<number, (status: RunStatus) => void>();
  #waiters: (() => void)[] = [];

  constructor(
    private readonly fx: StoreFixture,
    private readonly clock: TestClock,
  ) {}

  readonly run: PipelineRunFn = async (pipelineId, { trigger, signal, onStarted }) => {
    const run = await this.fx.store.startRun({
      pipelineId,
      trigger,
      fullRefresh: false,
      startedAt: new Date(this.clock.now()).toISOString(),
      owner: currentOwner(),
    });
    this.started.push(run);
    onStarted(run);
    for (const wake of this.#waiters.splice(0)) wake();
    const status = await new Promise<RunStatus>((resolve) => {
      this.#finishers.set(run.id, resolve);
      signal.addEventListener('abort', () => resolve('interrupted'), { once: true });
    });
    return this.fx.store.finishRun(run.id, {
      status: status === 'running' ? 'failed' : status,
      finishedAt: new Date(this.clock.now()).toISOString(),
      error: status === 'succeeded' ? null : `run ended ${status}`,
      objects: [],
    });
  };

  /** Resolves once `n` runs have started. */
  async untilStarted(n: number): Promise<void> {
    while (this.started.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  finish(run: Run, status: RunStatus): void {
    this.#finishers.get(run.id)?.(status);
  }
}

for (const kind of STORE_KINDS)
  describe(`scheduler on a fake clock (${kind} control store)`, () => {
    let fx: StoreFixture;
    let clock: TestClock;
    let runs: FakeRuns;
    let scheduler: Scheduler;

    beforeEach(async () => {
      clock = new TestClock({ start: '2025-03-01T00:00:00Z' });
      fx = await makeStore(kind, clock);
      runs = new FakeRuns(fx, clock);
      scheduler = new Scheduler({ store: fx.store, dataDir: fx.dataDir, clock, run: runs.run });
    });
    afterEach(async () => {
      await scheduler.stop();
      await fx.cleanup();
    });

    async function finishAll(status: RunStatus = 'succeeded') {
      for (const run of runs.started) runs.finish(run, status);
      for (const id of scheduler.running) await scheduler.wait(id);
    }

    it('starts a pipeline that never ran, then not again until its frequency has passed', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 2 }));
      expect(await scheduler.tick()).toEqual([p.id]);
      await finishAll();
      clock.advance(2 * HOUR - 1000);
      expect(await scheduler.tick()).toEqual([]);
      expect(await scheduler.nextRunAt(p)).toBe('2025-03-01T02:00:00.000Z');
      clock.advance(1000);
      expect(await scheduler.tick()).toEqual([p.id]);
      expect(runs.started.map((r) => [r.trigger, r.startedAt])).toEqual([
        ['schedule', '2025-03-01T00:00:00.000Z'],
        ['schedule', '2025-03-01T02:00:00.000Z'],
      ]);
    });

    it('counts the frequency from the last start, not the last end', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 1 }));
      await scheduler.tick();
      clock.advance(50 * 60_000); // a 50-minute run
      await finishAll();
      clock.advance(10 * 60_000);
      expect(await scheduler.tick()).toEqual([p.id]);
    });

    it('after downtime catches up with one run, not one per missed slot', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 1 }));
      await scheduler.tick();
      await finishAll();
      clock.advance(10 * HOUR + 17 * 60_000); // the process was down for ten hours
      expect(await scheduler.tick()).toEqual([p.id]);
      await finishAll();
      expect(await scheduler.tick()).toEqual([]);
      clock.advance(59 * 60_000);
      expect(await scheduler.tick()).toEqual([]);
      clock.advance(60_000);
      expect(await scheduler.tick()).toEqual([p.id]);
      expect(runs.started).toHaveLength(3);
    });

    it('never starts a second run of a pipeline while one is running, scheduled or manual', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 1 }));
      await scheduler.tick();
      clock.advance(3 * HOUR); // the run is still going when the next slot comes
      expect(await scheduler.tick()).toEqual([]);
      await expect(scheduler.runNow(p.id)).rejects.toThrow(/pipeline "acme" is already running/);
      expect(runs.started).toHaveLength(1);
      // A second scheduler (another process) on the same store sees the running row.
      const other = new Scheduler({ store: fx.store, dataDir: fx.dataDir, clock, run: runs.run });
      expect(await other.tick()).toEqual([]);
      await finishAll();
      expect(await scheduler.tick()).toEqual([p.id]);
    });

    it('records a failed run with its error and retries at the next slot, not at once', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 4 }));
      await scheduler.tick();
      await finishAll('failed');
      const failed = await fx.store.lastRun(p.id);
      expect(failed).toMatchObject({ status: 'failed', error: 'run ended failed' });
      clock.advance(60_000);
      expect(await scheduler.tick()).toEqual([]);
      clock.set('2025-03-01T04:00:00Z');
      expect(await scheduler.tick()).toEqual([p.id]);
    });

    it('leaves paused pipelines alone and picks them up again on resume', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ enabled: false }));
      expect(await scheduler.tick()).toEqual([]);
      expect(await scheduler.nextRunAt(p)).toBeNull();
      const resumed = await fx.store.updatePipeline(p.id, { enabled: true });
      expect(await scheduler.nextRunAt(resumed)).toBe('2025-03-01T00:00:00.000Z');
      expect(await scheduler.tick()).toEqual([p.id]);
      await finishAll();
      await fx.store.updatePipeline(p.id, { enabled: false });
      clock.advance(5 * HOUR);
      expect(await scheduler.tick()).toEqual([]);
    });

    it('runs a paused pipeline on demand, as a manual run', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ enabled: false }));
      const run = await scheduler.runNow(p.id);
      expect(run).toMatchObject({ pipelineId: p.id, trigger: 'manual', status: 'running' });
      runs.finish(run, 'succeeded');
      expect(await scheduler.wait(p.id)).toMatchObject({ id: run.id, status: 'succeeded' });
      await expect(scheduler.runNow(999)).rejects.toThrow(/no pipeline named or numbered "999"/);
    });

    it('on start marks runs left running by a dead process as interrupted, then runs what is due', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 1 }));
      const stale = await fx.store.startRun({
        pipelineId: p.id,
        trigger: 'schedule',
        fullRefresh: false,
        startedAt: '2025-02-28T20:00:00.000Z',
      });
      await scheduler.start();
      await runs.untilStarted(1);
      expect(await fx.store.getRun(stale.id)).toMatchObject({ status: 'interrupted' });
      expect(runs.started[0]).toMatchObject({ pipelineId: p.id, startedAt: '2025-03-01T00:00:00.000Z' });
    });

    it('leaves a run of a live process alone, and takes over from a dead one at the next tick', async () => {
      const live = await fx.store.createPipeline(pipelineInput({ name: 'live' }));
      const dead = await fx.store.createPipeline(pipelineInput({ name: 'dead' }));
      const exited = spawnSync(process.execPath, ['-e', '0']);
      const liveRun = await fx.store.startRun({
        pipelineId: live.id,
        trigger: 'manual',
        fullRefresh: false,
        startedAt: '2025-02-28T22:00:00.000Z',
        owner: currentOwner(),
      });
      const deadRun = await fx.store.startRun({
        pipelineId: dead.id,
        trigger: 'manual',
        fullRefresh: false,
        startedAt: '2025-02-28T22:00:00.000Z',
        owner: `${hostname()}#${exited.pid}`,
      });
      expect(await scheduler.tick()).toEqual([dead.id]);
      expect(await fx.store.getRun(liveRun.id)).toMatchObject({ status: 'running' });
      expect(await fx.store.getRun(deadRun.id)).toMatchObject({
        status: 'interrupted',
        error: `interrupted: the process running it (${hostname()}#${exited.pid}) stopped before it finished`,
      });
    });

    it('ticks on its own as the clock passes the interval', async () => {
      const p = await fx.store.createPipeline(pipelineInput({ frequencyHours: 1 }));
      await scheduler.start();
      await runs.untilStarted(1);
      await finishAll();
      clock.advance(HOUR); // wakes the loop's sleep
      await runs.untilStarted(2);
      expect(runs.started[1]).toMatchObject({ pipelineId: p.id, startedAt: '2025-03-01T01:00:00.000Z' });
    });

    it('stop aborts running syncs, waits for them, and they end interrupted', async () => {
      const p = await fx.store.createPipeline(pipelineInput());
      await scheduler.start();
      await runs.untilStarted(1);
      await scheduler.stop();
      expect(scheduler.running).toEqual([]);
      expect(await fx.store.lastRun(p.id)).toMatchObject({ status: 'interrupted' });
      expect(await scheduler.tick()).toEqual([]);
    });
  });
