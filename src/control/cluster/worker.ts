import type { Clock } from '../../clock.js';
import { systemClock } from '../../clock.js';
import { userMessage } from '../../errors.js';
import type { BaseUrlPolicy } from '../base-url-policy.js';
import type { DestinationScope } from '../../destinations/index.js';
import { runPipeline } from '../pipeline-runner.js';
import type { RunnerEvent } from '../pipeline-runner.js';
import { RunInProgressError } from '../store.js';
import type { ControlStore } from '../types.js';
import type { JobBook, RunJob } from './jobs.js';
import { triggerOf } from './jobs.js';
import type { QueuedJob, RunQueue } from './queue.js';
import type { PostgresRateBudgets } from './rate-budget.js';
import type { WorkerRegistry } from './registry.js';

/*
 * Takes jobs from the queues this machine reads, up to `maxRuns` at a time, and runs them. A job
 * whose run is stopped here before it ends (a drain, or this worker found itself declared lost) is
 * handed back for another worker, which resumes from what the destination committed.
 */

export interface JobRunnerOptions {
  readonly id: string;
  readonly queues: readonly string[];
  readonly maxRuns: number;
  readonly store: ControlStore;
  readonly queue: RunQueue;
  readonly book: JobBook;
  readonly registry: WorkerRegistry;
  readonly budgets: PostgresRateBudgets;
  readonly dataDir: string;
  readonly baseUrls?: BaseUrlPolicy;
  readonly destinations?: DestinationScope;
  /** Stamps runs and decides due slots (a fast clock in the bench); loops wait on real time. */
  readonly clock?: Clock;
  readonly pollMs?: number;
  readonly onEvent?: (event: RunnerEvent) => void;
  readonly onError?: (message: string) => void;
}

interface Active {
  readonly controller: AbortController;
  readonly done: Promise<void>;
  /** Why it was stopped: then the job goes back to the queue. */
  reason: string | null;
}

export class JobRunner {
  readonly #o: JobRunnerOptions;
  readonly #clock: Clock;
  readonly #active = new Map<string, Active>();
  #loop: Promise<void> | null = null;
  #stopping = false;
  #wake: AbortController = new AbortController();

  constructor(options: JobRunnerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  get inProgress(): number {
    return this.#active.size;
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = (async () => {
      while (!this.#stopping) {
        await this.#fill().catch((error: unknown) => this.#o.onError?.(`taking jobs: ${userMessage(error)}`));
        this.#wake = new AbortController();
        await systemClock.sleep(this.#o.pollMs ?? 1000, this.#wake.signal).catch(() => undefined);
      }
    })();
  }

  #turn = 0;

  async #fill(): Promise<void> {
    // each queue goes first in turn, so a busy shared queue does not starve this host's own
    const queues = this.#o.queues;
    const start = this.#turn++ % queues.length;
    for (const queue of [...queues.slice(start), ...queues.slice(0, start)]) {
      const free = this.#o.maxRuns - this.#active.size;
      if (free <= 0 || this.#stopping) return;
      for (const job of await this.#o.queue.fetch(queue, free)) this.#launch(job);
    }
  }

  #launch(job: QueuedJob): void {
    const controller = new AbortController();
    const entry: Active = { controller, reason: null, done: Promise.resolve() };
    this.#active.set(job.id, entry);
    (entry as { done: Promise<void> }).done = this.#execute(job, entry)
      .catch((error: unknown) => this.#o.onError?.(`job ${job.id}: ${userMessage(error)}`))
      .finally(() => {
        this.#active.delete(job.id);
        // a free place: look for the next job now
        this.#wake.abort();
      });
  }

  async #execute(queued: QueuedJob, entry: Active): Promise<void> {
    const { book, store } = this.#o;
    const job = await book.claim(queued, this.#o.id, this.#clock.now());
    if (!job) return this.#o.queue.complete(queued);
    const skip = await this.#skipReason(job);
    if (skip) return book.finish(job, 'skipped', skip, this.#clock.now());
    let runId: number | null = null;
    try {
      const run = await runPipeline(store, job.pipelineId, {
        trigger: triggerOf(job.kind),
        dataDir: this.#o.dataDir,
        signal: entry.controller.signal,
        clock: this.#clock,
        jobId: job.id,
        sharedBudget: (pipeline) => this.#o.budgets.forPipeline(pipeline),
        ...(this.#o.baseUrls ? { baseUrls: this.#o.baseUrls } : {}),
        ...(this.#o.destinations ? { destinations: this.#o.destinations } : {}),
        onEvent: (event) => {
          if (event.type === 'run:started') {
            runId = event.run.id;
            void book.markStarted(job.id, event.run.startedAt).catch(() => undefined);
            void this.#o.registry.countRun(this.#o.id, 'started').catch(() => undefined);
          }
          this.#o.onEvent?.(event);
        },
      });
      runId = run.id;
    } catch (error) {
      if (error instanceof RunInProgressError)
        return book.finish(job, 'skipped', 'the pipeline was already running', this.#clock.now());
      throw error;
    } finally {
      if (runId !== null) await this.#o.registry.countRun(this.#o.id, 'finished').catch(() => undefined);
    }
    if (entry.reason !== null) await book.handBack(job, entry.reason);
    else await book.finish(job, 'done', null, this.#clock.now());
  }

  /** Why the job should not run (null: run it). Runs left `running` for it by a lost worker end here. */
  async #skipReason(job: RunJob): Promise<string | null> {
    const pipeline = await this.#o.store.getPipeline(job.pipelineId);
    if (!pipeline) return 'the pipeline was deleted';
    if (job.kind === 'slot' && !pipeline.enabled) return 'the pipeline is paused';
    if (job.kind === 'slot' && (await this.#o.book.overtaken(job)))
      return 'another run started since it was due';
    for (const runId of await this.#o.book.runningRuns(job.id)) {
      const run = await this.#o.store.getRun(runId);
      const at = new Date(this.#clock.now()).toISOString();
      await this.#o.store.interruptRun(
        runId,
        `interrupted: its worker${run?.owner ? ` ${run.owner}` : ''} lost the job; resumed by ${this.#o.id}`,
        at,
      );
    }
    return null;
  }

  /** Stops the runs in progress (their batch commits) and hands their jobs back; `why` is recorded. */
  async stopRuns(why: string): Promise<void> {
    const active = [...this.#active.values()];
    for (const entry of active) {
      entry.reason = why;
      entry.controller.abort();
    }
    await Promise.all(active.map((entry) => entry.done));
  }

  /** Takes no more jobs, stops the runs in progress and hands them back. */
  async drain(why: string): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
    this.#loop = null;
    await this.stopRuns(why);
  }
}
