import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { DestinationScope } from '../destinations/index.js';
import { HarvestSyncError, userMessage } from '../errors.js';
import type { BaseUrlPolicy } from './base-url-policy.js';
import { runPipeline } from './pipeline-runner.js';
import type { RunnerEvent } from './pipeline-runner.js';
import { nextRunAt } from './next-run.js';
import { ownerIsGone, recoverStaleRuns } from './run-owner.js';
import { PipelineNotFoundError, RunInProgressError } from './store.js';
import type { ControlStore, Pipeline, Run, RunTrigger } from './types.js';

export { nextRunAt };

/** How often the scheduler looks for due pipelines; changes (create, resume) also wake it via `wake()`. */
export const DEFAULT_TICK_MS = 30_000;

/** Starts one run of a pipeline; `onStarted` fires once the run is recorded. The default is runPipeline. */
export type PipelineRunFn = (
  pipelineId: number,
  options: { trigger: RunTrigger; signal: AbortSignal; onStarted: (run: Run) => void },
) => Promise<Run>;

export interface SchedulerOptions {
  readonly store: ControlStore;
  readonly dataDir: string;
  readonly clock?: Clock;
  readonly tickMs?: number;
  /** Replaces runPipeline (tests); the default records runs through `store`. */
  readonly run?: PipelineRunFn;
  readonly onEvent?: (event: RunnerEvent) => void;
  /** Problems of the loop itself (the store unreachable…); runs report theirs in their rows. */
  readonly onError?: (message: string) => void;
  /** Where pipelines may send their token; default Harvest's own API only (see runPipeline). */
  readonly baseUrls?: BaseUrlPolicy;
  /** Where pipelines' destinations may be (`--sqlite-root`); default SQLite files inside `dataDir`. */
  readonly destinations?: DestinationScope;
}

interface ActiveRun {
  readonly controller: AbortController;
  readonly done: Promise<Run | null>;
}

/**
 * Runs each enabled pipeline every `frequencyHours` from its last start. At most one run per
 * pipeline at a time: an in-process guard, and the store's one-running-run rule across processes.
 */
export class Scheduler {
  readonly #store: ControlStore;
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #run: PipelineRunFn;
  readonly #onError: (message: string) => void;
  readonly #active = new Map<number, ActiveRun>();
  #ticking: Promise<number[]> | null = null;
  #loop: Promise<void> | null = null;
  #loopController: AbortController | null = null;
  #stopping = false;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.#onError = options.onError ?? (() => undefined);
    this.#run =
      options.run ??
      ((pipelineId, { trigger, signal, onStarted }) =>
        runPipeline(options.store, pipelineId, {
          trigger,
          signal,
          dataDir: options.dataDir,
          clock: this.#clock,
          ...(options.baseUrls ? { baseUrls: options.baseUrls } : {}),
          ...(options.destinations ? { destinations: options.destinations } : {}),
          onEvent: (event) => {
            if (event.type === 'run:started') onStarted(event.run);
            options.onEvent?.(event);
          },
        }));
  }

  /** Pipeline ids with a run in progress in this process. */
  get running(): number[] {
    return [...this.#active.keys()];
  }

  /**
   * Recovers runs left `running` by a process of this host that died (they become `interrupted`; the
   * next run resumes from what they committed), then checks for due pipelines now and every tick.
   */
  async start(): Promise<void> {
    if (this.#loop) return;
    this.#stopping = false;
    await recoverStaleRuns(this.#store, new Date(this.#clock.now()).toISOString());
    const controller = new AbortController();
    this.#loopController = controller;
    this.#loop = (async () => {
      while (!controller.signal.aborted) {
        await this.tick().catch((error: unknown) => this.#onError(userMessage(error)));
        await this.#clock.sleep(this.#tickMs, controller.signal).catch(() => undefined);
      }
    })();
  }

  /** Checks for due pipelines at once (after a create, update or resume) instead of at the next tick. */
  wake(): void {
    if (!this.#loop || this.#stopping) return;
    void this.tick().catch((error: unknown) => this.#onError(userMessage(error)));
  }

  /** Starts every due pipeline; resolves with the ids of those started. Concurrent calls share one pass. */
  tick(): Promise<number[]> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(): Promise<number[]> {
    if (this.#stopping) return [];
    const started: number[] = [];
    for (const pipeline of await this.#store.listPipelines()) {
      if (!pipeline.enabled || this.#active.has(pipeline.id)) continue;
      let last = await this.#store.lastRun(pipeline.id);
      if (last?.status === 'running' && ownerIsGone(last.owner)) {
        await recoverStaleRuns(this.#store, new Date(this.#clock.now()).toISOString(), pipeline.id);
        last = await this.#store.lastRun(pipeline.id);
      }
      // Running in another live process; its row is the guard.
      if (last?.status === 'running') continue;
      const now = this.#clock.now();
      if (nextRunAt(pipeline, last, now) !== now) continue;
      try {
        await this.#launch(pipeline.id, 'schedule');
        started.push(pipeline.id);
      } catch (error) {
        if (!(error instanceof RunInProgressError || error instanceof PipelineNotFoundError))
          this.#onError(`pipeline "${pipeline.name}": ${userMessage(error)}`);
      }
    }
    return started;
  }

  /**
   * Starts a manual run now and resolves with it (status `running`) once recorded; `wait()` gives
   * its end. Throws RunInProgressError when the pipeline is already running.
   */
  async runNow(pipelineId: number): Promise<Run> {
    if (this.#stopping)
      throw new HarvestSyncError('SCHEDULER_STOPPING', 'the scheduler is shutting down; no new run starts');
    const pipeline = await this.#store.getPipeline(pipelineId);
    if (!pipeline) throw new PipelineNotFoundError(pipelineId);
    if (this.#active.has(pipelineId)) throw new RunInProgressError(pipeline.name);
    return this.#launch(pipelineId, 'manual');
  }

  /** The end of the pipeline's run in progress in this process; null when none. */
  async wait(pipelineId: number): Promise<Run | null> {
    return (await this.#active.get(pipelineId)?.done) ?? null;
  }

  /** Resolves once the run is recorded; rejects when it could not start (already running…). */
  #launch(pipelineId: number, trigger: RunTrigger): Promise<Run> {
    const controller = new AbortController();
    let onStarted: (run: Run) => void = () => undefined;
    const started = new Promise<Run>((resolve) => (onStarted = resolve));
    const done = this.#run(pipelineId, { trigger, signal: controller.signal, onStarted }).finally(() => {
      if (this.#active.get(pipelineId)?.controller === controller) this.#active.delete(pipelineId);
    });
    // Registered before the first await, so a tick or runNow racing this one sees the guard.
    this.#active.set(pipelineId, {
      controller,
      done: done.catch(() => null),
    });
    return Promise.race([started, done]);
  }

  /** When the pipeline runs next (ISO), for display; null when paused. */
  async nextRunAt(pipeline: Pipeline): Promise<string | null> {
    const at = nextRunAt(pipeline, await this.#store.lastRun(pipeline.id), this.#clock.now());
    return at === null ? null : new Date(at).toISOString();
  }

  /** Stops scheduling, asks running syncs to stop after their current batch, and waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#loopController?.abort();
    await this.#loop;
    this.#loop = null;
    await this.#ticking?.catch(() => undefined);
    const active = [...this.#active.values()];
    for (const run of active) run.controller.abort();
    await Promise.all(active.map((run) => run.done));
  }
}
