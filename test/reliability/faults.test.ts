import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { ObjectState } from '../../src/destinations/destination.js';
import { SqliteDestination } from '../../src/destinations/sqlite/sqlite-destination.js';
import type { HarvestClientOptions } from '../../src/harvest/client.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Faults, Simulator } from '../../src/simulator/index.js';
import { runSync } from '../../src/sync/engine.js';
import type { SyncResult } from '../../src/sync/types.js';
import { RecordingDestination } from './support/recording.js';
import { lineId, snapshot, snapshotDiff } from './support/snapshot.js';
import type { Snapshot } from './support/snapshot.js';
import { changeAccount, clientFor } from './support/world.js';
import { TestClock } from '../support/clock.js';

/**
 * The fault matrix: each row injects one kind of trouble into a full-refresh run over a destination
 * that already holds a complete earlier run, after Harvest changed. A row ends either with exactly
 * what a clean run leaves, or failed with a message naming the cause, every table and state as the
 * last committed batch left them, and the next clean run exact. Every row is bounded in wall time
 * and in requests: nothing hangs, nothing spins.
 */

const SEED = 5;
const SCALE = 0.02;
const PER_PAGE = 5;
const T0 = Date.parse('2026-03-01T08:00:00Z');
const T1 = Date.parse('2026-03-02T08:00:00Z');
const MAX_ATTEMPTS = 6;
/** Short waits and timeouts where a row does not say otherwise; the fast clock skips backoffs. */
const CLIENT: Partial<HarvestClientOptions> = {
  timeoutMs: 2_000,
  retry: { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 200, maxDelayMs: 2_000 },
};

interface FaultRow {
  readonly name: string;
  /** How the row ends, for the test's title (and the README table built from it). */
  readonly verdict: string;
  readonly faults: Faults;
  readonly client?: Partial<HarvestClientOptions>;
  /** Called once the run has committed this many batches (to inject a second burst, say). */
  readonly midRun?: { readonly afterBatches: number; readonly act: (sim: Simulator) => void };
  /** Exact data, or a failed run whose error matches and whose failed objects are these. */
  readonly outcome:
    | 'exact'
    | {
        readonly error: RegExp;
        /** The objects that fail; `others` = every object but those few that finished before the fault. */
        readonly failed: readonly string[] | 'all' | { readonly othersThanAtMost: number };
      };
  readonly maxMs: number;
  /** Bound on requests, given the requests of a clean run. */
  readonly maxCalls: (clean: number) => number;
  /** What else the row must show (waits honoured, retries counted). */
  readonly check?: (run: FaultRun) => void;
}

interface FaultRun {
  readonly result: SyncResult;
  readonly clock: TestClock;
  readonly calls: number;
}

const ALL = DEFAULT_OBJECTS.length;
const retries = (run: FaultRun) => run.result.objects.reduce((n, o) => n + o.retries, 0);

const ROWS: FaultRow[] = [
  {
    name: '429 bursts with Retry-After',
    verdict: 'exact data, each burst waited out as Retry-After asks',
    faults: { burst429: { count: 5, variant: 'retry-after' } },
    midRun: {
      afterBatches: 20,
      act: (sim) => sim.setFaults({ burst429: { count: 5, variant: 'retry-after' } }),
    },
    outcome: 'exact',
    maxMs: 10_000,
    maxCalls: (clean) => clean + 10,
    check: (run) => {
      // both bursts were waited out as asked: at least 1 s (Retry-After: 1) each, on the client's clock
      expect(run.clock.waitedMs).toBeGreaterThanOrEqual(2_000);
      expect(run.result.objects.reduce((n, o) => n + o.rateLimitWaits, 0)).toBeGreaterThan(0);
    },
  },
  {
    name: '10% 5xx',
    verdict: 'exact data through bounded retries',
    faults: { seed: 1, errorRate: 0.1 },
    outcome: 'exact',
    maxMs: 10_000,
    maxCalls: (clean) => Math.ceil(clean * 1.5),
    check: (run) => expect(retries(run)).toBeGreaterThan(0),
  },
  {
    name: 'connection resets',
    verdict: 'exact data through bounded retries',
    faults: { seed: 2, resetRate: 0.1 },
    outcome: 'exact',
    maxMs: 10_000,
    maxCalls: (clean) => Math.ceil(clean * 1.5),
    check: (run) => expect(retries(run)).toBeGreaterThan(0),
  },
  {
    name: 'truncated bodies',
    verdict: 'exact data through bounded retries',
    faults: { seed: 3, truncateRate: 0.1 },
    outcome: 'exact',
    maxMs: 10_000,
    maxCalls: (clean) => Math.ceil(clean * 1.5),
    check: (run) => expect(retries(run)).toBeGreaterThan(0),
  },
  {
    name: 'invalid JSON',
    verdict: 'exact data through bounded retries',
    faults: { seed: 4, invalidJsonRate: 0.1 },
    outcome: 'exact',
    maxMs: 10_000,
    maxCalls: (clean) => Math.ceil(clean * 1.5),
    check: (run) => expect(retries(run)).toBeGreaterThan(0),
  },
  {
    name: 'responses slower than the timeout',
    verdict: 'exact data, slow requests timed out and retried',
    faults: { seed: 6, slowRate: 0.1, slowMs: 1_500 },
    client: { timeoutMs: 250 },
    outcome: 'exact',
    maxMs: 15_000,
    maxCalls: (clean) => Math.ceil(clean * 1.5),
    check: (run) => expect(retries(run)).toBeGreaterThan(0),
  },
  {
    name: 'every response slower than the timeout',
    verdict: 'failed run naming the timeout, committed state intact, next run exact',
    faults: { slowRate: 1, slowMs: 1_000 },
    client: { timeoutMs: 150, retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 100 } },
    outcome: { error: /timed out after 150 ms/, failed: 'all' },
    maxMs: 10_000,
    maxCalls: () => ALL * 3,
  },
  {
    name: 'every answer a 5xx',
    verdict:
      'failed run after 6 attempts per object naming the status, committed state intact, next run exact',
    faults: { seed: 7, errorRate: 1 },
    outcome: { error: /Harvest is unavailable: GET .* failed 6 times \(last: 50[023]/, failed: 'all' },
    maxMs: 10_000,
    maxCalls: () => ALL * MAX_ATTEMPTS,
  },
  {
    name: 'links.next looping back',
    verdict: 'that object failed naming the loop, the others exact, committed state intact, next run exact',
    faults: { loopNext: 'time_entries' },
    outcome: { error: /time_entries: .*pagination loops/, failed: ['time_entries'] },
    maxMs: 10_000,
    maxCalls: (clean) => clean + 2,
  },
  {
    name: 'a record missing its id',
    verdict: 'that object failed naming the record, nothing of its page written, next run exact',
    faults: { dropIdOnce: 'contacts' },
    outcome: {
      error: /contacts: .*has no numeric id \(got none\); nothing of this page was written/,
      failed: ['contacts'],
    },
    maxMs: 10_000,
    maxCalls: (clean) => clean + 2,
  },
  {
    name: 'token revoked mid-run (401 after page 3)',
    verdict: 'failed run naming the 401 without retrying it, committed state intact, next run exact',
    faults: { revokeAfterPages: 3 },
    // the objects whose pages were among the first three may finish; every other one fails
    outcome: { error: /rejected the access token \(401\)/, failed: { othersThanAtMost: 3 } },
    maxMs: 10_000,
    // no 401 is retried: at most one per object after the three pages
    maxCalls: () => 3 + ALL,
  },
];

let dir: string;
let base: string;
let reference: Snapshot;
let cleanCalls: number;

/** A simulator in the state every row starts from: the account as changed after the base run. */
async function changedSimulator(): Promise<Simulator> {
  const clock = new TestClock({ start: T0, sleeps: 'ignore' });
  const sim = await startSimulator({ seed: SEED, scale: SCALE, rateLimit: null, clock });
  clock.set(T1);
  changeAccount(sim, SEED, 1, 2);
  return sim;
}

async function fullRefresh(
  path: string,
  sim: Simulator,
  options: {
    client?: Partial<HarvestClientOptions>;
    clock?: TestClock;
    record?: (d: RecordingDestination) => void;
  } = {},
): Promise<SyncResult> {
  const real = new SqliteDestination(path);
  await real.open();
  const destination = new RecordingDestination(real);
  options.record?.(destination);
  try {
    return await runSync({
      source: clientFor(sim, {
        ...CLIENT,
        ...options.client,
        clock: options.clock ?? new TestClock({ realTime: true, sleeps: 'instant' }),
      }),
      destination,
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
      fullRefresh: true,
    });
  } finally {
    await real.close();
  }
}

async function states(path: string): Promise<Map<string, ObjectState | null>> {
  const destination = new SqliteDestination(path);
  await destination.open();
  try {
    const out = new Map<string, ObjectState | null>();
    for (const spec of DEFAULT_OBJECTS) out.set(spec.name, await destination.readState(spec.name));
    return out;
  } finally {
    await destination.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-faults-'));
  base = join(dir, 'base.db');
  const before = await startSimulator({
    seed: SEED,
    scale: SCALE,
    rateLimit: null,
    clock: new TestClock({ start: T0, sleeps: 'ignore' }),
  });
  try {
    const result = await fullRefresh(base, before);
    expect(result.status).toBe('succeeded');
  } finally {
    await before.stop();
  }
  const sim = await changedSimulator();
  try {
    const path = join(dir, 'reference.db');
    copyFileSync(base, path);
    const result = await fullRefresh(path, sim);
    expect(result.status).toBe('succeeded');
    cleanCalls = sim.counters.total;
    reference = await snapshot(`sqlite:${path}`);
  } finally {
    await sim.stop();
  }
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('fault matrix against the simulator', () => {
  for (const row of ROWS)
    it(`${row.name}: ${row.verdict}`, async () => {
      const sim = await changedSimulator();
      try {
        const path = join(dir, `${row.name.replace(/\W+/g, '-')}.db`);
        copyFileSync(base, path);
        const baseSnap = await snapshot(`sqlite:${path}`);
        const baseStates = await states(path);

        sim.setFaults(row.faults);
        const clock = new TestClock({ realTime: true, sleeps: 'instant' });
        let recorder: RecordingDestination | undefined;
        let acted = false;
        const started = performance.now();
        const result = await fullRefresh(path, sim, {
          client: row.client,
          clock,
          record: (d) => {
            recorder = d;
            if (row.midRun) {
              const { afterBatches, act } = row.midRun;
              const write = d.writeBatch.bind(d);
              d.writeBatch = async (batch) => {
                const out = await write(batch);
                if (!acted && d.committed >= afterBatches) {
                  acted = true;
                  act(sim);
                }
                return out;
              };
            }
          },
        });
        const ms = performance.now() - started;
        const calls = sim.counters.total;

        // bounded: it neither hung nor spun
        expect(ms).toBeLessThan(row.maxMs);
        expect(calls).toBeLessThanOrEqual(row.maxCalls(cleanCalls));
        if (row.midRun) expect(acted).toBe(true);
        row.check?.({ result, clock, calls });

        if (row.outcome === 'exact') {
          expect(result.error).toBeUndefined();
          expect(result.status).toBe('succeeded');
          expect(snapshotDiff(await snapshot(`sqlite:${path}`), reference)).toBeNull();
          return;
        }

        // failed, saying why, naming the objects that failed
        expect(result.status).toBe('failed');
        expect(result.error).toMatch(row.outcome.error);
        expect(result.error).not.toContain('\n');
        expect(result.error).not.toContain(sim.adminToken);
        const failed = result.objects.filter((o) => o.status === 'failed').map((o) => o.object);
        const expected = row.outcome.failed;
        if (expected === 'all') expect(failed).toEqual(DEFAULT_OBJECTS.map((o) => o.name));
        else if (Array.isArray(expected)) expect(failed).toEqual(expected);
        else {
          const others = result.objects.filter((o) => o.status !== 'failed');
          expect(others.every((o) => o.status === 'succeeded')).toBe(true);
          expect(others.length).toBeLessThanOrEqual(
            (expected as { othersThanAtMost: number }).othersThanAtMost,
          );
        }

        // the last committed state is intact: each object's state is its last committed batch's (or
        // the earlier run's, cursor not advanced), and no row changed but by a committed batch
        const after = await states(path);
        const rec = recorder as RecordingDestination;
        for (const spec of DEFAULT_OBJECTS) {
          const expected = rec.lastState.get(spec.name) ?? baseStates.get(spec.name);
          expect(after.get(spec.name), spec.name).toEqual(expected);
          if (failed.includes(spec.name)) {
            expect(after.get(spec.name)?.cursor, spec.name).toBe(baseStates.get(spec.name)?.cursor);
          }
        }
        const now = await snapshot(`sqlite:${path}`);
        for (const [table, lines] of Object.entries(now.tables)) {
          const was = new Map(baseSnap.tables[table].slice(1).map((l) => [lineId(l), l]));
          const written = rec.writtenIds.get(table) ?? new Set<string>();
          const reconciled = rec.childParents.get(table) ?? new Set<string>();
          expect(lines.length, table).toBeGreaterThanOrEqual(was.size + 1);
          for (const line of lines.slice(1)) {
            const id = lineId(line);
            if (was.get(id) === line || written.has(id) || rec.touchedTables.has(table)) continue;
            // a child row marked deleted because its committed parent no longer lists it
            const parent = line.slice(line.indexOf('#') + 1).split('|')[0];
            expect(reconciled.has(parent), `${table} row ${id} changed without a committed batch`).toBe(true);
          }
        }

        // the next clean run ends exact
        sim.setFaults(null);
        const next = await fullRefresh(path, sim);
        expect(next.status).toBe('succeeded');
        expect(snapshotDiff(await snapshot(`sqlite:${path}`), reference)).toBeNull();
      } finally {
        await sim.stop();
      }
    });
});
