import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Destination } from '../destinations/destination.js';
import { loadDestination } from '../destinations/targets.js';
import type { DestinationScope } from '../destinations/index.js';
import { ConfigError, userMessage } from '../errors.js';
import { HarvestClient } from '../harvest/client.js';
import type { SharedBudget } from '../harvest/shared-budget.js';
import type { ClientEvent } from '../harvest/types.js';
import { runSync } from '../sync/engine.js';
import { planObjects } from '../sync/plan.js';
import type { ObjectResult, SyncEvent, SyncResult } from '../sync/types.js';
import { BaseUrlPolicy } from './base-url-policy.js';
import { pipelineDestinations } from './destination-scope.js';
import { currentOwner, recoverStaleRuns } from './run-owner.js';
import { PipelineNotFoundError } from './store.js';
import type { ControlStore, Pipeline, Run, RunObjectStats, RunTrigger } from './types.js';

/** What a run reports as it goes: the engine's events, framed by the run's start and end. */
export type RunnerEvent =
  | { readonly type: 'run:started'; readonly run: Run; readonly pipeline: Pipeline }
  | SyncEvent
  | ClientEvent
  | { readonly type: 'run:finished'; readonly run: Run; readonly pipeline: Pipeline };

export interface RunPipelineOptions {
  readonly trigger: RunTrigger;
  /** Relative `sqlite:` destinations live here (unless `destinations` says otherwise). */
  readonly dataDir: string;
  /** Where the destination may be (`--sqlite-root`). Default: SQLite files inside `dataDir`. */
  readonly destinations?: DestinationScope;
  /** Aborting lets the batch being written commit, then the run ends `interrupted`. */
  readonly signal?: AbortSignal;
  /** Stamps the run and decides whether a full refresh is due. The sync itself runs on `syncClock`. */
  readonly clock?: Clock;
  /** Clock of the Harvest client and the engine (rate limits, retries). Default: the system clock. */
  readonly syncClock?: Clock;
  /** Force (true) or forbid (false) a full refresh; default: due when the last one is `fullRefreshHours` old. */
  readonly fullRefresh?: boolean;
  readonly onEvent?: (event: RunnerEvent) => void;
  /** How often live per-object statistics are written to the store. Default 1000 ms. */
  readonly progressIntervalMs?: number;
  /**
   * Where the pipeline's token may be sent (`--allow-base-url`). Default: Harvest's own API only. A
   * pipeline saved while its origin was allowed fails here, before its token is decrypted.
   */
  readonly baseUrls?: BaseUrlPolicy;
  /** Scale-out (cluster/): the queued job this run is for, and the account's budget shared by every worker. */
  readonly jobId?: string;
  readonly sharedBudget?: (pipeline: Pipeline) => SharedBudget;
}

/** Whether a run starting at `now` should re-read everything to capture deletions. */
export function fullRefreshDue(pipeline: Pipeline, now: number): boolean {
  if (pipeline.lastFullRefreshAt === null) return true;
  return now >= Date.parse(pipeline.lastFullRefreshAt) + pipeline.fullRefreshHours * 3_600_000;
}

function fromResult(result: ObjectResult): RunObjectStats {
  return {
    object: result.object,
    status: result.status,
    mode: result.mode,
    read: result.read,
    inserted: result.inserted,
    updated: result.updated,
    unchanged: result.unchanged,
    deleted: result.deleted,
    calls: result.calls,
    rateLimitWaits: result.rateLimitWaits,
    retries: result.retries,
    seconds: result.seconds,
    // a succeeded object's notice (deletions not marked) is shown where a reason would be
    reason: result.reason ?? result.notice ?? null,
  };
}

/**
 * Runs one sync of a pipeline and records it: the run row (status `running`), live per-object
 * statistics, then the final status, statistics and error.
 *
 * Throws only before a run is recorded: PipelineNotFoundError, RunInProgressError (the pipeline is
 * already running, here or elsewhere), ControlStoreError. Once the run exists it never throws: every
 * failure (wrong key, busy destination, Harvest refusing the token…) ends the run `failed` with a
 * one-line error, and an abort ends it `interrupted`.
 */
export async function runPipeline(
  store: ControlStore,
  pipelineId: number,
  options: RunPipelineOptions,
): Promise<Run> {
  const clock = options.clock ?? systemClock;
  const pipeline = await store.getPipeline(pipelineId);
  if (!pipeline) throw new PipelineNotFoundError(pipelineId);
  const startedAt = clock.now();
  await recoverStaleRuns(store, new Date(startedAt).toISOString(), pipelineId);
  const fullRefresh = options.fullRefresh ?? fullRefreshDue(pipeline, startedAt);
  const run = await store.startRun({
    pipelineId,
    trigger: options.trigger,
    fullRefresh,
    startedAt: new Date(startedAt).toISOString(),
    owner: currentOwner(),
    ...(options.jobId === undefined ? {} : { jobId: options.jobId }),
  });
  options.onEvent?.({ type: 'run:started', run, pipeline });
  const progress = new ProgressWriter(store, run.id, clock, options.progressIntervalMs ?? 1000);

  let result: SyncResult | null = null;
  let error: string | null = null;
  let destination: Destination | null = null;
  try {
    const refused = (options.baseUrls ?? BaseUrlPolicy.harvestOnly()).problem(pipeline.baseUrl);
    if (refused) throw new ConfigError(refused);
    const secrets = await store.pipelineSecrets(pipelineId);
    destination = await loadDestination(
      secrets.destinationUrl,
      options.destinations ?? pipelineDestinations(options.dataDir),
    );
    await destination.open();
    const client = new HarvestClient({
      token: secrets.token,
      accountId: pipeline.accountId,
      baseUrl: pipeline.baseUrl,
      ...(options.syncClock ? { clock: options.syncClock } : {}),
      ...(options.sharedBudget ? { sharedBudget: options.sharedBudget(pipeline) } : {}),
      onEvent: (event) => options.onEvent?.(event),
    });
    if (!options.signal?.aborted) {
      result = await runSync({
        source: client,
        destination,
        objects: planObjects(pipeline.objects),
        fullRefresh,
        since: pipeline.since ?? undefined,
        signal: options.signal,
        clock: options.syncClock,
        onEvent: (event) => {
          progress.onSyncEvent(event, client);
          options.onEvent?.(event);
        },
      });
    }
  } catch (caught) {
    error = userMessage(caught);
  } finally {
    try {
      await destination?.close();
    } catch (caught) {
      error ??= `closing the destination failed: ${userMessage(caught)}`;
    }
  }
  await progress.stop();

  const interrupted = options.signal?.aborted === true;
  const status = result?.status ?? (interrupted ? 'interrupted' : 'failed');
  const finishedError =
    status === 'succeeded'
      ? null
      : (result?.error ?? error ?? (interrupted ? 'interrupted' : 'the run failed'));
  const finished = await recordEnd(store, run, {
    status,
    finishedAt: new Date(clock.now()).toISOString(),
    error: finishedError,
    objects: result
      ? result.objects.map(fromResult)
      : progress.snapshot(interrupted ? 'interrupted' : 'failed'),
  });
  if (finished.status === 'succeeded' && fullRefresh) {
    await store.setLastFullRefresh(pipelineId, run.startedAt).catch(() => undefined);
  }
  options.onEvent?.({ type: 'run:finished', run: finished, pipeline });
  return finished;
}

/** The end of a run is recorded even if the store hiccups once; if it cannot be, the run is reported as it ended. */
async function recordEnd(
  store: ControlStore,
  run: Run,
  end: Parameters<ControlStore['finishRun']>[1],
): Promise<Run> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await store.finishRun(run.id, end);
    } catch {
      // retried once below; a run left `running` is marked interrupted when a scheduler next starts
    }
  }
  return { ...run, status: end.status, finishedAt: end.finishedAt, error: end.error, objects: end.objects };
}

/**
 * Keeps the run's per-object statistics current in the store while it runs, at most once per
 * interval, so the API and UI can show progress without a write per page.
 */
class ProgressWriter {
  readonly #objects = new Map<string, RunObjectStats>();
  #lastWrite = Number.NEGATIVE_INFINITY;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly store: ControlStore,
    private readonly runId: number,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  onSyncEvent(event: SyncEvent, client: HarvestClient): void {
    if (event.type === 'object:start') {
      this.#objects.set(event.object, {
        object: event.object,
        status: 'running',
        mode: event.mode,
        read: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        deleted: 0,
        calls: 0,
        rateLimitWaits: 0,
        retries: 0,
        seconds: 0,
        reason: null,
      });
    } else if (event.type === 'object:page') {
      const current = this.#objects.get(event.object);
      if (!current) return;
      const stats = client.stats(event.object);
      this.#objects.set(event.object, {
        ...current,
        read: event.read,
        ...event.counts,
        calls: stats.calls,
        rateLimitWaits: stats.rateLimitWaits,
        retries: stats.retries,
      });
    } else if (event.type === 'object:done') {
      this.#objects.set(event.result.object, fromResult(event.result));
    } else {
      return;
    }
    this.#maybeWrite(event.type !== 'object:page');
  }

  #maybeWrite(force: boolean): void {
    const now = this.clock.now();
    if (this.#stopped || (!force && now - this.#lastWrite < this.intervalMs)) return;
    this.#lastWrite = now;
    const objects = [...this.#objects.values()];
    // Writes are chained so an older snapshot never lands after a newer one; progress is best
    // effort, a failed write only delays the next.
    this.#writing = this.#writing.then(() =>
      this.store.updateRunProgress(this.runId, objects).catch(() => undefined),
    );
  }

  /** The statistics gathered so far, with live objects marked as the run ended. */
  snapshot(ended: RunObjectStats['status']): RunObjectStats[] {
    return [...this.#objects.values()].map((o) => (o.status === 'running' ? { ...o, status: ended } : o));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#writing;
  }
}
