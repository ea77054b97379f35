import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDestination } from '../../src/destinations/index.js';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { runPipeline as runPipelineWith } from '../../src/control/pipeline-runner.js';
import type { RunnerEvent } from '../../src/control/pipeline-runner.js';
import type { ControlStore, RunObjectStats } from '../../src/control/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { STORE_KINDS, makeStore, pipelineInput } from './helpers.js';
import type { StoreFixture } from './helpers.js';
import { TestClock } from '../support/clock.js';

const DEFAULT_OBJECTS = ['clients', 'projects', 'time_entries'];

for (const kind of STORE_KINDS)
  describe(`runPipeline against the simulator (${kind} control store)`, () => {
    let sim: Simulator;
    let fx: StoreFixture;
    // the simulator stands for Harvest: pipelines may send their token there only when allowed
    const runPipeline: typeof runPipelineWith = (store, id, options) =>
      runPipelineWith(store, id, { baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }), ...options });

    beforeAll(async () => {
      sim = await startSimulator({ scale: 0.05, rateLimit: null });
    });
    afterAll(async () => {
      await sim.stop();
    });
    beforeEach(async () => {
      fx = await makeStore(kind);
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const create = (overrides = {}) =>
      fx.store.createPipeline(
        pipelineInput({
          token: sim.adminToken,
          accountId: sim.accountId,
          baseUrl: sim.url,
          objects: DEFAULT_OBJECTS,
          destination: 'sqlite:replica.db',
          ...overrides,
        }),
      );

    function rowCount(table: string): number {
      const db = new Database(join(fx.dataDir, 'replica.db'), { readonly: true });
      try {
        return (
          db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE _deleted_at IS NULL`).get() as { n: number }
        ).n;
      } finally {
        db.close();
      }
    }

    it('replicates into a destination relative to the data dir and records per-object statistics', async () => {
      const p = await create();
      const run = await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir });
      expect(run).toMatchObject({ status: 'succeeded', trigger: 'manual', fullRefresh: true, error: null });
      const expected = DEFAULT_OBJECTS.map((o) => [o, [...sim.records(o)].length]);
      expect(run.objects.map((o) => [o.object, o.read])).toEqual(expected);
      expect(DEFAULT_OBJECTS.map((o) => [o, rowCount(o)])).toEqual(expected);
      for (const o of run.objects) {
        expect(o).toMatchObject({ status: 'succeeded', mode: 'full', inserted: o.read, updated: 0 });
        expect(o.calls).toBeGreaterThan(0);
      }
      expect(run.totals.read).toBe(expected.reduce((n, [, c]) => n + Number(c), 0));
      expect(await fx.store.getRun(run.id)).toEqual(run);
      expect((await fx.store.getPipeline(p.id))?.lastFullRefreshAt).toBe(run.startedAt);

      // The next run is incremental (a full refresh is due only daily) and sees the one change.
      const client = [...sim.records('clients')][0];
      sim.update('clients', Number(client.id), { name: 'Renamed Client' });
      const second = await runPipeline(fx.store, p.id, { trigger: 'schedule', dataDir: fx.dataDir });
      expect(second).toMatchObject({ status: 'succeeded', fullRefresh: false });
      const clients = second.objects.find((o) => o.object === 'clients');
      expect(clients).toMatchObject({ mode: 'incremental', inserted: 0, updated: 1 });
      expect(clients?.unchanged).toBe((clients?.read ?? 0) - 1);
      for (const o of second.objects.filter((o) => o.object !== 'clients')) {
        expect(o, o.object).toMatchObject({ updated: 0, unchanged: o.read });
      }
    });

    it('does a full refresh when the last one is older than fullRefreshHours', async () => {
      const p = await create({ fullRefreshHours: 1 });
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const clock = new TestClock({ start: t0, sleeps: 'ignore' });
      await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir, clock });
      clock.set(t0 + 30 * 60_000);
      expect(
        (await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir, clock })).fullRefresh,
      ).toBe(false);
      clock.set(t0 + 60 * 60_000);
      expect(
        (await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir, clock })).fullRefresh,
      ).toBe(true);
    });

    it('keeps live per-object progress in the store while the run goes', async () => {
      const p = await create({ objects: ['time_entries'] });
      const seen: RunObjectStats[][] = [];
      const recordProgress: ControlStore['updateRunProgress'] = async (runId, objects) => {
        seen.push([...objects]);
        return fx.store.updateRunProgress(runId, objects);
      };
      const store = new Proxy(fx.store, {
        get: (target, key) => {
          if (key === 'updateRunProgress') return recordProgress;
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const run = await runPipeline(store, p.id, {
        trigger: 'manual',
        dataDir: fx.dataDir,
        progressIntervalMs: 0,
      });
      expect(run.status).toBe('succeeded');
      const live = seen.filter((s) => s[0]?.status === 'running');
      expect(live.length).toBeGreaterThan(1); // several pages of time entries
      expect(live.map((s) => s[0].read)).toEqual([...live.map((s) => s[0].read)].sort((a, b) => a - b));
      expect(live.at(-1)?.[0].read).toBeGreaterThan(0);
      // the row counts go live too: a first load inserts every record it has read so far
      for (const s of live) expect(s[0]).toMatchObject({ inserted: s[0].read, updated: 0, unchanged: 0 });
    });

    it('records a refused token as a failed run with a one-line error that does not contain it', async () => {
      const p = await create({ token: 'wrong-token-QQQQ' });
      const events: RunnerEvent[] = [];
      const run = await runPipeline(fx.store, p.id, {
        trigger: 'schedule',
        dataDir: fx.dataDir,
        onEvent: (e) => events.push(e),
      });
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/token|401|unauthori[sz]ed/i);
      expect(JSON.stringify(run)).not.toContain('wrong-token-QQQQ');
      expect(events[0].type).toBe('run:started');
      expect(events.at(-1)).toMatchObject({ type: 'run:finished', run: { id: run.id, status: 'failed' } });
      expect((await fx.store.getPipeline(p.id))?.lastFullRefreshAt).toBeNull();
    });

    it('fails the run with the busy message when another run holds the destination', async () => {
      const p = await create();
      const holder = openDestination(`sqlite:${join(fx.dataDir, 'replica.db')}`);
      await holder.open();
      try {
        const run = await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir });
        expect(run.status).toBe('failed');
        expect(run.error).toMatch(/busy|another run|locked|in use/i);
      } finally {
        await holder.close();
      }
      expect((await runPipeline(fx.store, p.id, { trigger: 'manual', dataDir: fx.dataDir })).status).toBe(
        'succeeded',
      );
    });

    it('ends interrupted when aborted before it starts syncing', async () => {
      const p = await create();
      const controller = new AbortController();
      controller.abort();
      const run = await runPipeline(fx.store, p.id, {
        trigger: 'manual',
        dataDir: fx.dataDir,
        signal: controller.signal,
      });
      expect(run).toMatchObject({ status: 'interrupted', error: 'interrupted' });
    });

    it('throws before recording anything for an unknown pipeline', async () => {
      await expect(runPipeline(fx.store, 4242, { trigger: 'manual', dataDir: fx.dataDir })).rejects.toThrow(
        /no pipeline/,
      );
      expect(await fx.store.listRuns()).toEqual([]);
    });
  });
