import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type { Destination } from '../destinations/destination.js';
import type { HarvestSource } from '../harvest/types.js';
import { CONCURRENCY, PER_PAGE, sinceProblem, wholeNumberProblem } from '../limits.js';
import { DEFAULT_CONCURRENCY, PARSED_PAGES } from './limits.js';
import { ObjectSync } from './object-sync.js';
import type { RunContext } from './object-sync.js';
import { PageBudget } from './page-budget.js';
import { emptyResult, iso, pool, runOutcome } from './results.js';
import type { ObjectResult, SyncEvent, SyncOptions, SyncResult } from './types.js';

export { CURSOR_OVERLAP_MS, DEFAULT_CONCURRENCY, MAX_CHECKED_UNSEEN, MAX_STREAM_RESTARTS } from './limits.js';

/**
 * Replicates the selected objects from `source` into `destination`. Never throws: every failure is
 * reported in the result (per object, plus the run's first error) and in `run:done`.
 *
 * Objects are independent: one that fails (a broken endpoint, bad data) does not stop the others,
 * and the run ends `failed` with the first error. Objects the token may not read are `skipped` and
 * the run can still succeed, unless every object was skipped: nothing synced is a failure, never an
 * empty success. A rejected token (401) or a refused TLS certificate stops every object at once.
 */
export async function runSync(options: SyncOptions): Promise<SyncResult> {
  const run = new SyncRun(options);
  try {
    return await run.execute();
  } finally {
    run.dispose();
  }
}

class SyncRun implements RunContext {
  readonly options: SyncOptions;
  readonly clock: Clock;
  readonly source: HarvestSource;
  readonly destination: Destination;
  /** Aborted by the caller's signal, or by a failure that makes going on pointless (401, refused TLS certificate). */
  readonly controller = new AbortController();
  /** Set when the run was stopped because of a failure rather than by the caller. */
  fatal: string | undefined;
  firstError: string | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  /**
   * One page in memory per request the run may have in flight (objects, or date windows of one
   * object), plus one read ahead: enough to keep requests going while a page is written, and memory
   * bounded by a few pages whatever the account size.
   */
  readonly pages: PageBudget;
  /**
   * Pages parsed and not yet written: at most one being written and one ready. A page that arrives
   * while both are taken waits as bytes (outside V8's heap), so a source faster than the writer does
   * not fill the heap with parsed records the collector must copy again and again.
   */
  readonly parsed: PageBudget;
  private readonly onCallerAbort = () => this.controller.abort(this.options.signal?.reason);

  constructor(options: SyncOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.source = options.source;
    this.destination = options.destination;
    this.pages = new PageBudget(this.concurrency + 1);
    this.parsed = new PageBudget(Math.min(PARSED_PAGES, this.concurrency + 1));
    if (options.signal?.aborted) this.controller.abort(options.signal.reason);
    else options.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Requests the run may have in flight: objects read side by side, or windows of one object. */
  get concurrency(): number {
    return this.options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  dispose(): void {
    this.options.signal?.removeEventListener('abort', this.onCallerAbort);
  }

  emit(event: SyncEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A listener's bug (a progress view, a log sink) must not break a sync half-way.
    }
  }

  /**
   * Runs a destination call after every earlier one has finished: SQLite has a single writer and the
   * PostgreSQL destination one connection, so batches of concurrent objects take turns.
   */
  write<T>(task: () => Promise<T>): Promise<T> {
    const result = this.writes.then(task);
    this.writes = result.catch(() => undefined);
    return result;
  }

  failAll(message: string): void {
    this.fatal ??= message;
    this.controller.abort(new Error(message));
  }

  noteFailure(message: string): void {
    this.firstError ??= message;
  }

  async execute(): Promise<SyncResult> {
    const startedAt = iso(this.clock.now());
    const invalid = this.validate();
    const results: ObjectResult[] = [];
    if (invalid !== undefined) {
      this.noteFailure(invalid);
      for (const spec of this.options.objects)
        results.push(emptyResult(spec.name, 'failed', 'full', invalid));
    } else {
      const queue = [...this.options.objects.entries()];
      await pool(queue, this.concurrency, async ([index, spec]) => {
        results[index] = await new ObjectSync(this, spec).execute();
      });
    }
    const { status, error } = runOutcome(results, this.firstError);
    const result: SyncResult = {
      status,
      objects: results,
      ...(error !== undefined ? { error } : {}),
      startedAt,
      finishedAt: iso(this.clock.now()),
    };
    this.emit({ type: 'run:done', result });
    return result;
  }

  private validate(): string | undefined {
    const { perPage, since, concurrency } = this.options;
    const checks: ReadonlyArray<readonly [string, unknown, string | null]> = [
      ['per page', perPage, perPage === undefined ? null : wholeNumberProblem(perPage, PER_PAGE)],
      ['since', JSON.stringify(since), since === undefined ? null : sinceProblem(since)],
      [
        'concurrency',
        concurrency,
        concurrency === undefined ? null : wholeNumberProblem(concurrency, CONCURRENCY),
      ],
    ];
    const bad = checks.find(([, , problem]) => problem !== null);
    return bad === undefined ? undefined : `${bad[0]} ${bad[2]}, got ${String(bad[1])}`;
  }
}
