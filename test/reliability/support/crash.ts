import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OBJECTS, findObject } from '../../../src/catalog/objects.js';
import type { ObjectSpec } from '../../../src/catalog/types.js';
import { openDestination } from '../../../src/destinations/index.js';
import { startSimulator } from '../../../src/simulator/index.js';
import type { Simulator } from '../../../src/simulator/index.js';
import { runSync } from '../../../src/sync/engine.js';
import type { SyncResult } from '../../../src/sync/types.js';
import { databaseUrl, dropDatabase, uniqueDatabase } from '../../destinations/mysql-support.js';
import { PG_URL, dropSchema, schemaUrl, uniqueSchema } from '../../destinations/postgres-support.js';
import type { CrashChildSpec } from './crash-child.js';
import { snapshot, snapshotDiff } from './snapshot.js';
import type { Snapshot } from './snapshot.js';
import { changeAccount, clientFor } from './world.js';
import { TestClock } from '../../support/clock.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/**
 * - initial: the first run into an empty destination;
 * - incremental: a run after a complete one, Harvest having changed in between;
 * - full-refresh: the same with --full-refresh, so deletions are swept on each object's last page.
 */
export type CrashMode = 'initial' | 'incremental' | 'full-refresh';
export const CRASH_MODES: readonly CrashMode[] = ['initial', 'incremental', 'full-refresh'];
export type KillPhase = CrashChildSpec['phase'];

export interface CrashPoint {
  readonly mode: CrashMode;
  /** 1-based batch index (all objects together) at which the child dies. */
  readonly killAfter: number;
  readonly phase: KillPhase;
  /** mid-write: how long after the batch started writing. */
  readonly delayUs?: number;
}

export interface CrashOutcome {
  /** `destination/mode/phase/object#page`: where the child died, as it reported it. */
  readonly key: string;
  readonly point: CrashPoint;
  readonly object: string;
  readonly page: number;
  /** Batches the killed run committed, by its own report. */
  readonly committed: number;
  /** Whether the resuming run found an unfinished pass to continue. */
  readonly resumedPass: boolean;
  /** First difference from the uninterrupted run; null when byte-for-byte equal. */
  readonly diff: string | null;
  readonly resumeStatus: SyncResult['status'];
}

export type DestinationKind = 'sqlite' | 'postgres' | 'mysql';

export interface CrashLabOptions {
  readonly seed?: number;
  readonly scale?: number;
  readonly perPage?: number;
  readonly concurrency?: number;
  /** The objects every run syncs, by name; default: the default set. */
  readonly objects?: readonly string[];
}

const T0 = Date.parse('2026-02-01T09:00:00Z');
const T1 = Date.parse('2026-02-02T09:00:00Z');

/**
 * Kill -9 a sync at chosen points and compare what the resumed run leaves with an uninterrupted run.
 *
 * Two simulators from one seed: `before` is Harvest as the earlier complete run saw it; `after` is
 * the same account changed (edits, creations, hard deletions, replaced line items) and is what the
 * killed run, its resumption and the reference run read. Both have clocks that stand still, so every
 * cursor is the same in every run and the state table can be compared byte for byte too.
 */
export class CrashLab {
  private readonly references = new Map<CrashMode, { snap: Snapshot; batches: number; order: string[] }>();
  private readonly cleanups: Array<() => Promise<void>> = [];
  private sqliteBase: string | null = null;
  private count = 0;

  private constructor(
    readonly kind: DestinationKind,
    private readonly before: Simulator,
    private readonly after: Simulator,
    private readonly dir: string,
    private readonly perPage: number,
    private readonly concurrency: number,
    private readonly names: readonly string[] | undefined,
  ) {}

  private get objects(): readonly ObjectSpec[] {
    return this.names ? this.names.map((name) => findObject(name) as ObjectSpec) : DEFAULT_OBJECTS;
  }

  static async start(kind: DestinationKind, options: CrashLabOptions = {}): Promise<CrashLab> {
    const seed = options.seed ?? 7;
    const scale = options.scale ?? 0.02;
    const before = await startSimulator({
      seed,
      scale,
      rateLimit: null,
      clock: new TestClock({ start: T0, sleeps: 'ignore' }),
    });
    const after = await startSimulator({
      seed,
      scale,
      rateLimit: null,
      clock: new TestClock({ start: T1, sleeps: 'ignore' }),
    });
    changeAccount(after, seed, 1, 2);
    const dir = mkdtempSync(join(tmpdir(), 'hs-crash-'));
    const { perPage = 5, concurrency = 4, objects } = options;
    return new CrashLab(kind, before, after, dir, perPage, concurrency, objects);
  }

  /** Batches an uninterrupted run of this mode writes (the range of kill points). */
  async batches(mode: CrashMode): Promise<number> {
    return (await this.reference(mode)).batches;
  }

  /** The object each batch of an uninterrupted run of this mode wrote, in order (batch k at k − 1). */
  async batchObjects(mode: CrashMode): Promise<string[]> {
    return (await this.reference(mode)).order;
  }

  /** What an uninterrupted run of this mode leaves. */
  async referenceSnapshot(mode: CrashMode): Promise<Snapshot> {
    return (await this.reference(mode)).snap;
  }

  async run(point: CrashPoint): Promise<CrashOutcome> {
    const reference = await this.reference(point.mode);
    const url = await this.prepare(point.mode);
    const died = await this.killChild(url, point);
    const resumed = await this.sync(url, point.mode);
    const diff =
      resumed.result.status === 'succeeded'
        ? snapshotDiff(await snapshot(url), reference.snap)
        : `the resumed run ${resumed.result.status}: ${resumed.result.error ?? ''}`;
    await this.discard(url);
    return {
      key: `${this.kind}/${point.mode}/${point.phase}/${died.object}#${died.page}`,
      point,
      object: died.object,
      page: died.page,
      committed: died.committed,
      resumedPass: resumed.resumedPass,
      diff,
      resumeStatus: resumed.result.status,
    };
  }

  async stop(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await this.before.stop();
    await this.after.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async reference(mode: CrashMode): Promise<{ snap: Snapshot; batches: number; order: string[] }> {
    let ref = this.references.get(mode);
    if (!ref) {
      const url = await this.prepare(mode);
      const { result, batches, order } = await this.sync(url, mode);
      if (result.status !== 'succeeded')
        throw new Error(`reference ${mode} run ${result.status}: ${result.error}`);
      ref = { snap: await snapshot(url), batches, order };
      this.references.set(mode, ref);
      await this.discard(url);
    }
    return ref;
  }

  /** A destination as the mode starts from: empty, or holding a complete run of `before`. */
  private async prepare(mode: CrashMode): Promise<string> {
    const n = ++this.count;
    if (this.kind === 'sqlite') {
      const path = join(this.dir, `point-${n}.db`);
      if (mode !== 'initial') copyFileSync(await this.baseFile(), path);
      return `sqlite:${path}`;
    }
    let url: string;
    if (this.kind === 'mysql') {
      const database = uniqueDatabase();
      url = databaseUrl(database);
      this.cleanups.push(() => dropDatabase(database));
    } else {
      const schema = uniqueSchema('hs_crash');
      url = schemaUrl(schema);
      this.cleanups.push(() => dropSchema(schema));
    }
    if (mode !== 'initial') await this.load(url, this.before);
    return url;
  }

  private async baseFile(): Promise<string> {
    if (this.sqliteBase === null) {
      const path = join(this.dir, 'base.db');
      await this.load(`sqlite:${path}`, this.before);
      this.sqliteBase = path;
    }
    return this.sqliteBase;
  }

  private async load(url: string, sim: Simulator): Promise<void> {
    const destination = openDestination(url);
    await destination.open();
    try {
      const result = await runSync({
        source: clientFor(sim),
        destination,
        objects: this.objects,
        perPage: 2000,
      });
      if (result.status !== 'succeeded') throw new Error(`base load ${result.status}: ${result.error}`);
    } finally {
      await destination.close();
    }
  }

  private async sync(
    url: string,
    mode: CrashMode,
  ): Promise<{ result: SyncResult; batches: number; resumedPass: boolean; order: string[] }> {
    const destination = openDestination(url);
    await destination.open();
    let batches = 0;
    let resumedPass = false;
    const order: string[] = [];
    try {
      const result = await runSync({
        source: clientFor(this.after),
        destination,
        objects: this.objects,
        perPage: this.perPage,
        concurrency: this.concurrency,
        fullRefresh: mode === 'full-refresh',
        onEvent: (event) => {
          if (event.type === 'object:page') batches = order.push(event.object);
          if (event.type === 'object:start' && event.resumed) resumedPass = true;
        },
      });
      return { result, batches, resumedPass, order };
    } finally {
      await destination.close();
    }
  }

  private async killChild(
    url: string,
    point: CrashPoint,
  ): Promise<{ object: string; page: number; committed: number }> {
    const spec: CrashChildSpec = {
      baseUrl: this.after.url,
      token: this.after.adminToken,
      accountId: this.after.accountId,
      destination: url,
      perPage: this.perPage,
      concurrency: this.concurrency,
      fullRefresh: point.mode === 'full-refresh',
      killAfter: point.killAfter,
      phase: point.phase,
      delayUs: point.delayUs ?? 0,
      ...(this.names ? { objects: this.names } : {}),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    let writing = { object: '', page: 0 };
    let lastCommitted = { object: '', page: 0 };
    let committed = 0;
    let done: string | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const message = JSON.parse(line) as {
        writing?: string;
        committed?: string;
        page?: number;
        done?: string;
      };
      if (message.writing) writing = { object: message.writing, page: message.page ?? 0 };
      if (message.committed) {
        committed++;
        lastCommitted = { object: message.committed, page: message.page ?? 0 };
      }
      if (message.done) done = message.done;
    }
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    if (signal !== 'SIGKILL' || done !== undefined) {
      throw new Error(
        `the child was to die at ${JSON.stringify(point)} but ended ${signal ?? 'normally'} (${done ?? 'no result'}): ${stderr.slice(0, 500)}`,
      );
    }
    const at = point.phase === 'after-commit' ? lastCommitted : writing;
    return { ...at, committed };
  }

  private async discard(url: string): Promise<void> {
    if (url.startsWith('sqlite:')) {
      const path = url.slice('sqlite:'.length);
      for (const suffix of ['', '-wal', '-shm', '.lock']) rmSync(`${path}${suffix}`, { force: true });
    } else if (this.kind === 'mysql') {
      await dropDatabase(new URL(url).pathname.slice(1));
    } else {
      await dropSchema(new URL(url).searchParams.get('schema') ?? '');
    }
  }
}

/** Where the PostgreSQL points run (for reports). */
export const CRASH_PG_URL = PG_URL;

/**
 * `count` points spread over every mode and both kill phases: kill batches drawn across each mode's
 * whole range (the first batch, the last — where a full pass sweeps — and between), mid-write
 * delays from 0 to 3 ms. Deterministic for a seed.
 */
export async function planPoints(lab: CrashLab, count: number, random: () => number): Promise<CrashPoint[]> {
  const points: CrashPoint[] = [];
  for (let i = 0; i < count; i++) {
    const mode = CRASH_MODES[i % CRASH_MODES.length];
    const total = await lab.batches(mode);
    const round = Math.floor(i / CRASH_MODES.length);
    const rounds = Math.ceil(count / CRASH_MODES.length);
    // stratified: round r of R takes a batch from the r-th slice of the range
    const lo = Math.floor((round * total) / rounds);
    const hi = Math.max(lo + 1, Math.floor(((round + 1) * total) / rounds));
    const killAfter = Math.min(total, 1 + lo + Math.floor(random() * (hi - lo)));
    const phase: KillPhase = (i + round) % 2 === 0 ? 'after-commit' : 'mid-write';
    points.push({
      mode,
      killAfter,
      phase,
      ...(phase === 'mid-write' ? { delayUs: Math.floor(random() * 3000) } : {}),
    });
  }
  return points;
}
