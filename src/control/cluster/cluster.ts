import { hostname } from 'node:os';
import type pg from 'pg';
import type { Clock } from '../../clock.js';
import { systemClock } from '../../clock.js';
import { HarvestSyncError, userMessage } from '../../errors.js';
import type { RateLimit } from '../../harvest/rate-limiter.js';
import type { BaseUrlPolicy } from '../base-url-policy.js';
import type { DestinationScope } from '../../destinations/index.js';
import type { RunnerEvent } from '../pipeline-runner.js';
import { controlStorePool, splitControlStoreUrl } from '../postgres-store.js';
import { nextRunAt } from '../scheduler.js';
import { PipelineNotFoundError, RunInProgressError } from '../store.js';
import type { ControlStore, Pipeline, Run } from '../types.js';
import { JobBook } from './jobs.js';
import { RunQueue, queuesOf } from './queue.js';
import { PostgresRateBudgets } from './rate-budget.js';
import { WorkerRegistry } from './registry.js';
import type { WorkerInfo, WorkerRole } from './registry.js';
import { JobRunner } from './worker.js';

/*
 * A process's part in a cluster of harvest-sync processes sharing one PostgreSQL control store:
 * it enqueues due slots (every process does; the slot index keeps each one once), beats its
 * heartbeat, gives the jobs of workers that stopped beating to the others, and — when it works —
 * runs jobs. `serve` uses it as its scheduler; `worker` is nothing else.
 */

export const DEFAULT_LOST_AFTER_MS = 60_000;
export const DEFAULT_MAX_RUNS = 2;

export interface ClusterOptions {
  readonly url: string;
  /** Default `host#pid`, as runs record their owner; tests running several in one process set it. */
  readonly id?: string;
  readonly store: ControlStore;
  readonly dataDir: string;
  readonly role: WorkerRole;
  /** False: schedule and watch, run nothing (`serve --no-worker`). */
  readonly work: boolean;
  readonly maxRuns?: number;
  /** A worker silent this long is lost: its jobs go to others. Default 60 s. */
  readonly lostAfterMs?: number;
  /** How often due slots are looked for and queues polled. Default 1 s. */
  readonly tickMs?: number;
  readonly version?: string;
  readonly baseUrls?: BaseUrlPolicy;
  /** Where this host's SQLite pipelines may write (`--sqlite-root`); default: the data directory. */
  readonly destinations?: DestinationScope;
  /** The account budget every worker shares; default Harvest's 100 requests / 15 s. */
  readonly rateLimit?: RateLimit;
  /** Stamps runs and due times; the bench's is fast. Heartbeats use the database's clock. */
  readonly clock?: Clock;
  readonly onEvent?: (event: RunnerEvent) => void;
  readonly onError?: (message: string) => void;
  readonly onNotice?: (message: string, fields: Record<string, unknown>) => void;
}

/** "Run now" was queued but no worker started it in time: it will run when one is free. */
export class RunQueuedError extends HarvestSyncError {
  constructor(pipeline: string) {
    super(
      'RUN_QUEUED',
      `the run of "${pipeline}" is queued, but no worker has started it yet (are workers running?); it starts when one is free`,
      { retryable: true },
    );
  }
}

const RUN_NOW_WAIT_MS = 15_000;

export class Cluster {
  readonly id: string;
  readonly #o: ClusterOptions;
  readonly #pool: pg.Pool;
  readonly #queue: RunQueue;
  readonly #book: JobBook;
  readonly #registry: WorkerRegistry;
  readonly #runner: JobRunner | null;
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #running = false;

  private constructor(options: ClusterOptions, pool: pg.Pool, queue: RunQueue) {
    this.#o = options;
    this.#pool = pool;
    this.#queue = queue;
    this.#clock = options.clock ?? systemClock;
    this.id = options.id ?? `${hostname()}#${process.pid}`;
    this.#book = new JobBook(pool, queue);
    this.#registry = new WorkerRegistry(pool);
    this.#runner = options.work
      ? new JobRunner({
          id: this.id,
          queues: queuesOf(),
          maxRuns: options.maxRuns ?? DEFAULT_MAX_RUNS,
          store: options.store,
          queue,
          book: this.#book,
          registry: this.#registry,
          budgets: new PostgresRateBudgets(pool, options.rateLimit),
          dataDir: options.dataDir,
          clock: this.#clock,
          pollMs: options.tickMs ?? 1000,
          ...(options.baseUrls ? { baseUrls: options.baseUrls } : {}),
          ...(options.destinations ? { destinations: options.destinations } : {}),
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
          ...(options.onError ? { onError: options.onError } : {}),
        })
      : null;
  }

  /** Connects (pg-boss creates or updates its schema) and registers this process. */
  static async open(options: ClusterOptions): Promise<Cluster> {
    const { connectionString, schema } = splitControlStoreUrl(options.url);
    const pool = controlStorePool(connectionString, schema, 4);
    try {
      const queue = await RunQueue.open({ connectionString, schema, onError: options.onError });
      return new Cluster(options, pool, queue);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  /** The control clock's now (due times and run stamps). */
  now(): number {
    return this.#clock.now();
  }

  get lostAfterMs(): number {
    return this.#o.lostAfterMs ?? DEFAULT_LOST_AFTER_MS;
  }

  get pool(): pg.Pool {
    return this.#pool;
  }

  get queue(): RunQueue {
    return this.#queue;
  }

  get book(): JobBook {
    return this.#book;
  }

  #register(): Promise<void> {
    return this.#registry.register({
      id: this.id,
      host: hostname(),
      pid: process.pid,
      version: this.#o.version ?? 'unknown',
      role: this.#o.role,
      maxRuns: this.#o.work ? (this.#o.maxRuns ?? DEFAULT_MAX_RUNS) : 0,
    });
  }

  async start(): Promise<void> {
    await this.#register();
    // a beat several times per bound: a worker is lost only after missing many in a row
    const beatMs = Math.max(200, Math.floor(this.lostAfterMs / 6));
    this.#loops = [
      this.#every(beatMs, () => this.#beat()),
      this.#every(this.#o.tickMs ?? 1000, () => this.tick()),
    ];
    this.#runner?.start();
    this.#running = true;
  }

  #every(ms: number, fn: () => Promise<unknown>): Promise<void> {
    const signal = this.#stop.signal;
    return (async () => {
      while (!signal.aborted) {
        await fn().catch((error: unknown) => this.#o.onError?.(userMessage(error)));
        await systemClock.sleep(ms, signal).catch(() => undefined);
      }
    })();
  }

  /** Enqueues the slots due now; returns how many. */
  tick(): Promise<number> {
    return this.#book.enqueueDue(this.#clock.now());
  }

  async #beat(): Promise<void> {
    const status = await this.#registry.heartbeat(this.id);
    if (status === 'lost' || status === null) {
      // others took our jobs while we were silent: stop their runs here, and come back as new
      this.#o.onNotice?.('this process was taken for lost (silent too long); its runs went to others', {
        worker: this.id,
      });
      await this.#runner?.stopRuns('the worker was taken for lost');
      await this.#register();
      return;
    }
    await this.reapLost();
  }

  /** Marks lost the workers silent for the bound and hands their jobs to the others. */
  async reapLost(): Promise<string[]> {
    const lost = await this.#registry.markLost(this.lostAfterMs);
    for (const worker of lost) {
      const seconds = Math.round(this.lostAfterMs / 1000);
      for (const job of await this.#book.heldBy(worker)) {
        const at = new Date(this.#clock.now()).toISOString();
        for (const runId of await this.#book.runningRuns(job.id))
          await this.#o.store.interruptRun(
            runId,
            `interrupted: its worker ${worker} stopped answering (no heartbeat for ${seconds} s); another worker resumes it`,
            at,
          );
        await this.#book.handBack(job, `worker ${worker} lost`);
      }
      this.#o.onNotice?.('worker lost: its runs were handed to other workers', { worker });
    }
    return lost;
  }

  isRunning(): boolean {
    return this.#running;
  }

  /** Queues a manual run and resolves with it once a worker has started it. */
  async runNow(pipelineId: number): Promise<Run> {
    const pipeline = await this.#o.store.getPipeline(pipelineId);
    if (!pipeline) throw new PipelineNotFoundError(pipelineId);
    const last = await this.#o.store.lastRun(pipelineId);
    if (last?.status === 'running') throw new RunInProgressError(pipeline.name, last.id);
    const jobId = await this.#book.enqueueManual(pipelineId, this.#clock.now());
    if (jobId === null) throw new RunInProgressError(pipeline.name);
    const deadline = Date.now() + RUN_NOW_WAIT_MS;
    while (Date.now() < deadline) {
      const { rows } = await this.#pool.query('SELECT id FROM runs WHERE job_id = $1 ORDER BY id LIMIT 1', [
        jobId,
      ]);
      if (rows.length > 0) {
        const run = await this.#o.store.getRun(Number(rows[0].id));
        if (run) return run;
      }
      await systemClock.sleep(200);
    }
    throw new RunQueuedError(pipeline.name);
  }

  nextRunAt(pipeline: Pipeline, lastRun: Run | null): string | null {
    const at = nextRunAt(pipeline, lastRun, this.#clock.now());
    return at === null ? null : new Date(at).toISOString();
  }

  wake(): void {
    void this.tick().catch((error: unknown) => this.#o.onError?.(userMessage(error)));
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return this.#registry.list();
  }

  /**
   * Stops: with `drain`, runs in progress stop after their batch and their jobs go back to the
   * queue for other workers. The row says `stopped`.
   */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#registry.setStatus(this.id, 'stopping').catch(() => undefined);
    await this.#runner?.drain(`worker ${this.id} shut down; handed back to the queue`);
    this.#stop.abort();
    await Promise.all(this.#loops);
    await this.#registry.setStatus(this.id, 'stopped').catch(() => undefined);
    await this.#queue.stop();
    await this.#pool.end().catch(() => undefined);
  }
}
