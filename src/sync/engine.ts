import { objectTable, childTable } from '../catalog/schema.js';
import type { Column, JsonObject, ObjectSpec, Row } from '../catalog/types.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type {
  BatchResult,
  ChildRows,
  Destination,
  ObjectState,
  PassState,
  StreamState,
} from '../destinations/destination.js';
import { userMessage } from '../errors.js';
import { HarvestApiError, isPermissionError, reasonsLine } from '../harvest/errors.js';
import type { HarvestPage, HarvestSource, SourceStats } from '../harvest/types.js';
import { CONCURRENCY, PER_PAGE, sinceProblem, wholeNumberProblem } from '../limits.js';
import { SyncDataError } from './errors.js';
import { ownedByParents, sourceFor } from './sources.js';
import { PageBudget } from './page-budget.js';
import { TableMapper } from './table-mapper.js';
import type { ObjectResult, PassMode, RowCounts, SyncEvent, SyncOptions, SyncResult } from './types.js';
import { dateOf, inWindow, tileDates, windowCount } from './windows.js';
import type { DateWindow } from './windows.js';

/**
 * How far before the cursor an incremental pass asks from. The cursor is Harvest's clock at the
 * start of the last pass, read from a `Date` header with one-second resolution, and whether
 * `updated_since` is inclusive is undocumented; a record saved in the same second as the pass started,
 * or stamped by a Harvest server whose clock lags the one that answered us, would otherwise be missed.
 * Re-reading two minutes of changes costs nothing (upserts by id) and normally fits in the one call
 * the pass makes anyway.
 */
export const CURSOR_OVERLAP_MS = 2 * 60_000;

export const DEFAULT_CONCURRENCY = CONCURRENCY.default;
/**
 * The page size asked for (per_page, sent on every list call) unless SyncOptions.perPage says
 * otherwise: the most Harvest gives, the fewest calls. Never Harvest's default
 * (ObjectSpec.defaultPerPage), which is only 100 for invoices.
 */
const MAX_PER_PAGE = PER_PAGE.max;
/**
 * How often a stream of a page-numbered list is read again from its top after the list shrank
 * under it; past that the pass finishes without marking deletions (see PassState.noSweep).
 */
export const MAX_STREAM_RESTARTS = 3;
/**
 * How many rows a full pass of a page-numbered list did not see it checks one by one with Harvest
 * (GET <endpoint>/<id>) before marking them deleted. A page-numbered read can let a live record
 * slide past unread while others are created, moved and deleted; only Harvest's own 404 proves a row
 * gone. Above this many (a mass deletion), one GET each would cost too long: the pass then sweeps
 * only when it can show nothing changed while it read, and otherwise leaves them to the next one.
 */
export const MAX_CHECKED_UNSEEN = 500;

/**
 * Replicates the selected objects from `source` into `destination`. Never throws: every failure is
 * reported in the result (per object, plus the run's first error) and in `run:done`.
 *
 * Objects are independent: one that fails (a broken endpoint, bad data) does not stop the others,
 * and the run ends `failed` with the first error. Objects the token may not read are `skipped` and
 * the run can still succeed, unless every object was skipped: nothing synced is a failure, never an
 * empty success. A rejected token (401) stops every object at once.
 */
export async function runSync(options: SyncOptions): Promise<SyncResult> {
  const run = new SyncRun(options);
  try {
    return await run.execute();
  } finally {
    run.dispose();
  }
}

/**
 * How a run ended, from its objects: failed if one failed, interrupted if one was, else succeeded,
 * except that a run in which every object was skipped synced nothing: it fails, saying why.
 */
function runOutcome(
  results: readonly ObjectResult[],
  firstError: string | undefined,
): { status: SyncResult['status']; error?: string } {
  if (results.some((r) => r.status === 'failed')) return { status: 'failed', error: firstError };
  if (results.some((r) => r.status === 'interrupted')) return { status: 'interrupted' };
  if (results.length > 0 && results.every((r) => r.status === 'skipped')) {
    const reasons = reasonsLine(results.map((r) => ({ name: r.object, reason: r.reason })));
    return {
      status: 'failed',
      error: `nothing was synced: every selected object was skipped — ${reasons}`,
    };
  }
  return { status: 'succeeded' };
}

class SyncRun {
  readonly options: SyncOptions;
  readonly clock: Clock;
  readonly source: HarvestSource;
  readonly destination: Destination;
  /** Aborted by the caller's signal, or by a failure that makes going on pointless (401). */
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
  private readonly onCallerAbort = () => this.controller.abort(this.options.signal?.reason);

  constructor(options: SyncOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.source = options.source;
    this.destination = options.destination;
    this.pages = new PageBudget(this.concurrency + 1);
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

/** The tables of one object, each with its mapper; the object's own table first. */
interface ObjectTables {
  readonly main: TableMapper;
  readonly children: ReadonlyArray<{ readonly field: string; readonly mapper: TableMapper }>;
}

/** A pass as the engine runs it: its persisted form plus what this run learnt while reading it. */
interface ActivePass {
  readonly mode: PassMode;
  readonly resumed: boolean;
  /** Null until the first page of a new pass tells Harvest's time. */
  startedAt: string | null;
  readonly sweepSince: string | undefined;
  /** Destination time before the pass wrote anything (PassState.writtenSince). */
  readonly writtenSince: string | undefined;
  totalEntries: number | null;
  noSweep: boolean;
  /** Committed positions: a stream's entry changes only once the page that moves it is written. */
  streams: Stream[];
  /** A fresh full pass of a dated object: its first page decides whether the rest is read as windows. */
  mayWindow: boolean;
  /** The whole list's first page: where a windowed pass goes when Harvest ignores `from`/`to`. */
  readonly listUrl: string;
  /** Harvest's clock at the last page read in this run, if any. */
  serverTime: string | null;
  /**
   * Whether Harvest's list may have changed under the read: a stream's total_entries moved, or the
   * pass was resumed (what happened before is unknown). Decides whether unseen rows may be swept
   * without checking each (see MAX_CHECKED_UNSEEN).
   */
  changed: boolean;
}

/** Harvest answered a date window's first page with records outside it: it ignores `from`/`to`. */
class FilterIgnored extends Error {}

/** One stream of a pass (see StreamState): its committed position. */
interface Stream {
  state: StreamState;
  /**
   * Distinct rows this attempt at the stream has stamped so far, as the destination counted them
   * while writing (TableCounts.fresh); undefined when unknown (a resumed stream, a destination that
   * does not count), and the end-of-list check then counts in the table.
   */
  written?: number;
}

/** What became of a stream once a page of it was written. */
type Step = 'next' | 'restart' | 'done' | 'split';

/** One object's part of a run: reads its pass page by page and writes each page with its state. */
class ObjectSync {
  private readonly run: SyncRun;
  private readonly spec: ObjectSpec;
  private readonly started: number;
  private readonly statsBefore: SourceStats;
  /** The run's source, or the view of it an object listed per parent is read through. */
  private readonly source: HarvestSource;
  /** Cancels this object's requests when it stops early, and follows the run's signal. */
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private mode: PassMode;
  private state: ObjectState | null = null;
  private read = 0;
  private counts: RowCounts = NO_ROWS;
  private pages = 0;
  private windows = 0;
  /** Things the user should know about a pass that succeeded, in the order they came up. */
  private readonly notices: string[] = [];

  constructor(run: SyncRun, spec: ObjectSpec) {
    this.run = run;
    this.spec = spec;
    this.started = run.clock.now();
    this.source = sourceFor(run.source, spec, { since: run.options.since, now: () => run.clock.now() });
    this.statsBefore = { ...run.source.stats(spec.name) };
    this.signal = AbortSignal.any([run.signal, this.controller.signal]);
    this.mode = spec.incremental && !run.options.fullRefresh ? 'incremental' : 'full';
  }

  async execute(): Promise<ObjectResult> {
    try {
      if (this.run.signal.aborted) return this.stopped();
      await this.sync();
      return this.finish('succeeded');
    } catch (error) {
      return this.failure(error);
    } finally {
      this.controller.abort();
    }
  }

  private async sync(): Promise<void> {
    const tables = await this.run.write(() => this.prepareTables());
    const pass = await this.choosePass();
    this.run.emit({ type: 'object:start', object: this.spec.name, mode: pass.mode, resumed: pass.resumed });
    // A new full pass of a dated object reads its first page alone: that page (and one probe)
    // decide whether the rest is split into date windows read side by side.
    if (pass.mayWindow) await this.readStream(tables, pass, pass.streams[0], this.signal);
    const ignored = await this.readStreams(tables, pass);
    if (ignored !== undefined) {
      await this.readAsOneList(pass, ignored);
      const again = await this.readStreams(tables, pass);
      if (again !== undefined) throw again;
    }
    // Every stream read to its end, the pass not yet complete: its unseen rows are checked first.
    if (this.state?.pass) await this.finishPass(tables, pass);
    if (pass.noSweep) {
      this.note(
        `Harvest kept changing while ${this.spec.name} was read (records created, moved or deleted), so one may have slid past unread and this pass marked no deletions; the next full refresh (--full-refresh) settles it`,
      );
    }
  }

  /**
   * Reads the pass's unfinished streams side by side (one after another in an incremental pass, so
   * each stream's count of written rows, see slidPast, is its own). The first failure stops the
   * others and is thrown, except FilterIgnored, returned for the caller to read the list as one.
   */
  private async readStreams(tables: ObjectTables, pass: ActivePass): Promise<FilterIgnored | undefined> {
    const pending = pass.streams.filter((s) => s.state.nextUrl !== null);
    const width = pass.mode === 'full' ? this.run.concurrency : 1;
    const phase = new AbortController();
    const signal = AbortSignal.any([this.signal, phase.signal]);
    let firstError: unknown;
    await pool(pending, width, async (stream) => {
      try {
        await this.readStream(tables, pass, stream, signal);
      } catch (error) {
        // the first failure is the object's; the other streams stop (their errors are aborts)
        if (firstError === undefined) {
          firstError = error;
          phase.abort();
        }
      }
    });
    if (firstError instanceof FilterIgnored) return firstError;
    if (firstError !== undefined) throw firstError;
    return undefined;
  }

  /**
   * Harvest ignored a window's dates: every window would read the whole list (a load many times
   * over). The rest of the pass reads the list once, from its first page, and the summary says why.
   */
  private async readAsOneList(pass: ActivePass, why: FilterIgnored): Promise<void> {
    const writtenSince = await this.run.write(() => this.run.destination.now());
    const first = pass.listUrl;
    pass.streams = [{ state: { firstUrl: first, nextUrl: first, writtenSince } }];
    this.windows = 0;
    this.note(`${why.message}, so date windows were not used: ${this.spec.name} was read as one list`);
  }

  /** Reads one stream of the pass to its end, one page ahead, each page written with its state. */
  private async readStream(
    tables: ObjectTables,
    pass: ActivePass,
    stream: Stream,
    signal: AbortSignal,
  ): Promise<void> {
    let url = stream.state.nextUrl;
    if (url === null) return;
    // Loop protection needs only this stream's URLs: links.next is followed verbatim, so a URL seen
    // twice means Harvest sends us round in circles.
    const seen = new Set<string>([url]);
    let fetching = this.fetch(url, signal);
    try {
      for (;;) {
        const { page, release } = await fetching;
        let step: Step;
        try {
          step = await this.syncPage(
            tables,
            pass,
            stream,
            seen,
            url,
            page,
            (next) => (fetching = this.fetch(next, signal)),
          );
        } finally {
          release();
        }
        if (step === 'done' || step === 'split') return;
        if (step === 'restart') {
          url = stream.state.firstUrl;
          seen.clear();
          seen.add(url);
          fetching = this.fetch(url, signal);
        } else {
          url = page.nextUrl as string;
        }
      }
    } finally {
      // a page read ahead but never written gives its slot back
      fetching.then(({ release }) => release()).catch(() => undefined);
    }
  }

  /** Writes one page with the state that follows it, after starting the read of the next one. */
  private async syncPage(
    tables: ObjectTables,
    pass: ActivePass,
    stream: Stream,
    seen: Set<string>,
    url: string,
    page: HarvestPage,
    readAhead: (next: string) => void,
  ): Promise<Step> {
    const { destination } = this.run;
    this.checkFilters(stream, url, page);
    pass.startedAt ??= page.serverTime;
    pass.totalEntries ??= page.totalEntries;
    pass.serverTime = page.serverTime;
    const next = page.nextUrl;
    if (next !== null) {
      if (seen.has(next)) {
        throw new SyncDataError(
          `${this.spec.name}: Harvest's links.next on page ${this.pages + 1} (GET ${pathOf(url)}) points back to ${pathOf(next)}, already read in this pass: pagination loops, stopped reading ${this.spec.name}`,
        );
      }
      seen.add(next);
    }
    const restart = this.shrank(pass, stream, page);
    let windows: StreamState[] | undefined;
    let records = page.records;
    if (pass.mayWindow) {
      pass.mayWindow = false;
      windows = next === null ? undefined : await this.planWindows(page);
      // the newest window, open above, reads this page's records again
      if (windows) records = [];
    }
    // One page ahead at most, and only when the run's page budget allows.
    if (next !== null && !restart && !windows && !this.signal.aborted) readAhead(next);
    // The only page of a pass read in one request is Harvest's list at one instant: nothing slid past.
    const single = !pass.resumed && this.pages === 0 && pass.streams.length === 1 && next === null;

    const batch = ownedByParents(await this.buildPage(tables, records, url), tables.main.table, page);
    const since = stream.state.writtenSince ?? pass.writtenSince;
    let restarted = restart;
    const result = await this.run.write(async () => {
      // Decided when its turn to write comes, from the other streams' committed positions.
      if (!restarted && next === null && (await this.slidPast(pass, stream, url, page, records))) {
        restarted = true;
      }
      const position: StreamState = restarted
        ? {
            ...withoutTotal(stream.state),
            nextUrl: stream.state.firstUrl,
            restarts: (stream.state.restarts ?? 0) + 1,
            writtenSince: await destination.now(),
          }
        : {
            ...stream.state,
            nextUrl: next,
            ...(stream.state.totalEntries === undefined &&
            page.totalEntries !== null &&
            this.spec.paging === 'page'
              ? { totalEntries: page.totalEntries }
              : {}),
          };
      const streams = windows ?? pass.streams.map((s) => (s === stream ? position : s.state));
      // A pass that may sweep checks the rows it did not see before it completes (finishPass).
      const done = streams.every((s) => s.nextUrl === null) && (single || !this.checksUnseen(pass));
      const state = this.nextState(pass, streams, done, page.serverTime);
      const sweep =
        done && pass.sweepSince !== undefined && !pass.noSweep ? this.sweepOf(tables, pass) : undefined;
      const written = await destination.writeBatch({
        table: tables.main.table,
        rows: batch.rows,
        children: batch.children,
        records,
        state,
        ...(sweep ? { sweep } : {}),
        ...(this.spec.paging === 'page' && since !== undefined ? { freshSince: since } : {}),
      });
      const fresh = written.tables[tables.main.table]?.fresh;
      if (windows) {
        pass.streams = windows.map((w) => ({ state: w, written: 0 }));
        this.windows = windows.length;
      } else {
        stream.state = position;
        // a stream read again counts in the table at its end: the page that restarts it is stamped
        // after the new attempt's start, so its rows would not count as fresh when read again
        stream.written = restarted ? undefined : tallied(stream.written, fresh);
      }
      this.state = state;
      return written;
    });
    this.countPage(tables, pass, { records, result, page: true });
    if (this.run.signal.aborted) throw this.run.signal.reason;
    if (windows) return 'split';
    if (restarted) return 'restart';
    return next === null ? 'done' : 'next';
  }

  /**
   * Adds a written batch to the object's counts and tells the listener; `page`: it was a page of a
   * list (not the records a pass checked by id at its end).
   */
  private countPage(
    tables: ObjectTables,
    pass: ActivePass,
    batch: { readonly records: readonly JsonObject[]; readonly result: BatchResult; readonly page: boolean },
  ): void {
    const { records, result } = batch;
    if (batch.page) this.pages += 1;
    const written = rowCounts(result, tables.main.table);
    this.read += records.length;
    this.counts = addCounts(this.counts, written);
    if (!batch.page && records.length === 0 && written.deleted === 0) return;
    this.run.emit({
      type: 'object:page',
      object: this.spec.name,
      records: records.length,
      read: this.read,
      pages: this.pages,
      totalEntries: pass.totalEntries,
      written,
      counts: this.counts,
    });
  }

  private sweepOf(tables: ObjectTables, pass: ActivePass): { tables: string[]; since: string } {
    return {
      tables: [tables.main.table, ...tables.children.map((c) => c.mapper.table)],
      since: pass.sweepSince as string,
    };
  }

  /**
   * Whether a pass checks, before it completes, the rows it did not see: a full pass that may sweep
   * a page-numbered list, where a record can slide past a read of several pages (keyset lists
   * cannot shift).
   */
  private checksUnseen(pass: ActivePass): boolean {
    return pass.sweepSince !== undefined && !pass.noSweep && this.spec.paging === 'page';
  }

  /**
   * Checks that Harvest applied the filters the engine relies on. A date window's records must all
   * lie inside it, else Harvest ignores from/to (FilterIgnored: the pass is read as one list). An
   * incremental pass's first page must hold only records changed since updated_since, else the pass
   * reads more than it needs (still correctly): the summary says so.
   */
  private checkFilters(stream: Stream, url: string, page: HarvestPage): void {
    const window = windowOf(stream.state);
    const field = this.spec.windowField;
    if (window && field !== undefined) {
      const outside = page.records.find((record) => {
        const date = dateOf(record[field]);
        return date === null || !inWindow(date, window);
      });
      if (outside) {
        throw new FilterIgnored(
          `Harvest's answer to GET ${pathOf(url)} held a record dated ${JSON.stringify(outside[field])}, outside the dates asked for: it does not honour from/to`,
        );
      }
    }
    const since = Date.parse(paramOf(url, 'updated_since') ?? '');
    if (url !== stream.state.firstUrl || Number.isNaN(since)) return;
    const stale = page.records.find((r) => Date.parse(String(r.updated_at)) < since);
    if (stale) {
      this.note(
        `Harvest's answer to GET ${pathOf(url)} held a record updated at ${String(stale.updated_at)}, before the updated_since asked for: it does not honour updated_since, so this incremental pass read the whole list`,
      );
    }
  }

  private note(message: string): void {
    if (!this.notices.includes(message)) this.notices.push(message);
  }

  /**
   * A page-numbered list that got shorter since the stream's first page had records deleted ahead
   * of our position: the rest slid forward and one may have slid past unread. The stream is read
   * again from its top (cheap for a window); past MAX_STREAM_RESTARTS the pass goes on but marks no
   * deletions, so an unread record is never marked deleted. Keyset (cursor) lists do not shift.
   */
  private shrank(pass: ActivePass, stream: Stream, page: HarvestPage): boolean {
    const before = stream.state.totalEntries;
    if (this.spec.paging !== 'page' || before === undefined || page.totalEntries === null) return false;
    if (page.totalEntries !== before) pass.changed = true;
    if (page.totalEntries >= before) return false;
    return this.readAgain(pass, stream);
  }

  /**
   * At the last page of a page-numbered list read over several pages: were fewer distinct records
   * written by this read than Harvest now counts in the list? Then one slid past unread (a record
   * created or moved ahead of our position while another was deleted, or one moved from ahead of
   * it to behind it: the total alone does not change) and the stream is read again from its top.
   * Past MAX_STREAM_RESTARTS the pass goes on but marks no deletions. Runs inside the write queue,
   * so the count sees every committed page of the stream and nothing of the others' in flight.
   */
  private async slidPast(
    pass: ActivePass,
    stream: Stream,
    url: string,
    page: HarvestPage,
    records: readonly JsonObject[],
  ): Promise<boolean> {
    const since = stream.state.writtenSince ?? pass.writtenSince;
    const expected = page.totalEntries;
    if (this.spec.paging !== 'page' || since === undefined || expected === null) return false;
    if (url === stream.state.firstUrl) return false; // one page: nothing can slide past it
    const ids = records.map((r) => r.id as number);
    let counted: number;
    if (stream.written !== undefined) {
      // counted while writing: no scan of the table, only this page's ids looked up
      const again =
        ids.length === 0 ? 0 : await this.run.destination.countWritten(this.spec.name, { since, ids });
      counted = stream.written - again;
    } else {
      const window = windowOf(stream.state);
      const field = this.spec.windowField;
      counted = await this.run.destination.countWritten(this.spec.name, {
        since,
        ...(window && field !== undefined ? { range: { column: field, ...window } } : {}),
        exceptIds: ids,
      });
    }
    if (counted + records.length >= expected) return false;
    return this.readAgain(pass, stream);
  }

  /**
   * A record may have slid past this stream: read it again from its top while restarts are left;
   * after that, go on but let the pass mark no deletions (an unread record must not look deleted).
   */
  private readAgain(pass: ActivePass, stream: Stream): boolean {
    if ((stream.state.restarts ?? 0) < MAX_STREAM_RESTARTS) return true;
    pass.noSweep = true;
    return false;
  }

  /**
   * Splits the rest of a new full pass into date windows that tile the whole date line (see
   * windows.ts): inner boundaries spread from the oldest record's date (one probe: the last record
   * alone) to the date of the last record on the first page; the oldest window has no lower bound
   * (or `--since`), the newest no upper one, so no record can fall outside them whatever changes.
   * The newest window reads the first page's records again. Undefined: read the rest as one list.
   */
  private async planWindows(first: HarvestPage): Promise<StreamState[] | undefined> {
    const field = this.spec.windowField;
    const total = first.totalEntries;
    const perPage = this.run.options.perPage ?? MAX_PER_PAGE;
    if (field === undefined || total === null || first.records.length === 0) return undefined;
    const count = windowCount(Math.ceil((total - first.records.length) / perPage), this.run.concurrency);
    const newest = dateOf(first.records[first.records.length - 1][field]);
    if (count === 0 || newest === null) return undefined;
    // The split points assume Harvest's documented order (business date, newest first); a page out
    // of that order is not the list windows were designed for: it is read as one.
    const dates = first.records.map((r) => dateOf(r[field]) ?? '');
    if (dates.some((date, i) => date === '' || (i > 0 && date > dates[i - 1]))) return undefined;
    const since = this.run.options.since;
    const oldest = since ?? (await this.probeOldest(field, total));
    if (oldest === null) return undefined;
    const windows = tileDates({ oldest, newest, count }, since);
    if (windows.length === 0) return undefined;
    return windows.map((window) => {
      const url = this.source.firstPageUrl(this.spec, { perPage, ...window });
      return { ...window, firstUrl: url, nextUrl: url };
    });
  }

  /**
   * The oldest record's date: the list's last record, read alone. Null when the probe saw another
   * list than the first page did (total_entries moved in between): the split would be guessed from
   * two states of the list, so the rest is read as one list.
   */
  private async probeOldest(field: string, total: number): Promise<string | null> {
    const url = this.source.firstPageUrl(this.spec, { perPage: 1, page: total });
    const probe = await this.source.fetchPage(this.spec, url, this.signal);
    if (probe.totalEntries !== total) return null;
    return dateOf(probe.records[0]?.[field]);
  }

  private async prepareTables(): Promise<ObjectTables> {
    const { destination } = this.run;
    const encoders = destination.encoders;
    const ignore = new Set(this.spec.children.map((c) => c.field));
    const mainColumns = await destination.ensureTable(objectTable(this.spec));
    const main = new TableMapper({ table: this.spec.name, columns: mainColumns, encoders, ignore });
    const children = [];
    for (const child of this.spec.children) {
      const table = childTable(child);
      const columns = await destination.ensureTable(table);
      const mapper = new TableMapper({ table: child.name, columns, encoders, parentKey: child.parentKey });
      children.push({ field: child.field, mapper });
    }
    this.state = await destination.readState(this.spec.name);
    return { main, children };
  }

  /** Resumes the pass an earlier run left unfinished, or starts a new one. */
  private async choosePass(): Promise<ActivePass> {
    const { options } = this.run;
    const saved = this.state?.pass;
    const savedStreams = saved ? streamsOf(saved) : null;
    // A full refresh supersedes an unfinished incremental pass; any other unfinished pass resumes
    // exactly as it was (same mode, same start, same sweep bound, each stream where it stood).
    if (saved && savedStreams && !(options.fullRefresh && saved.mode === 'incremental')) {
      this.mode = saved.mode;
      this.windows = savedStreams.some((s) => windowOf(s) !== undefined) ? savedStreams.length : 0;
      return {
        mode: saved.mode,
        resumed: true,
        startedAt: saved.startedAt,
        sweepSince: saved.sweepSince,
        writtenSince: saved.writtenSince,
        totalEntries: saved.totalEntries ?? null,
        noSweep: saved.noSweep === true,
        streams: savedStreams.map((state) => ({ state })),
        mayWindow: false,
        listUrl: this.listUrl(),
        changed: true,
        serverTime: null,
      };
    }
    return this.newPass();
  }

  private async newPass(): Promise<ActivePass> {
    const { options, destination } = this.run;
    const cursor = this.state?.cursor ?? null;
    const since = cursor === null ? Number.NaN : Date.parse(cursor);
    const incremental = this.spec.incremental && !options.fullRefresh && !Number.isNaN(since);
    this.mode = incremental ? 'incremental' : 'full';
    const listUrl = this.listUrl();
    const firstUrl = incremental ? this.listUrl({ updatedSince: iso(since - CURSOR_OVERLAP_MS) }) : listUrl;
    // A lone stream counts what it writes as it goes (see Stream.written); two that may read the same
    // records (the running timers below) count in the table at their ends.
    const streams: Stream[] = [{ state: { firstUrl, nextUrl: firstUrl }, written: 0 }];
    // Running timers' hours grow while their updated_at stays: an incremental pass reads them again.
    if (incremental && this.spec.runningFilter !== undefined) {
      const running = this.listUrl({ running: true });
      streams[0].written = undefined;
      streams.push({ state: { firstUrl: running, nextUrl: running } });
    }
    // A full pass over a `since` window does not see older records, so it must not sweep them away.
    const windowed = options.since !== undefined && this.spec.sinceField !== undefined;
    const sweeps = !incremental && !windowed;
    const writtenSince = await this.run.write(() => destination.now());
    return {
      mode: this.mode,
      resumed: false,
      startedAt: null,
      sweepSince: sweeps ? writtenSince : undefined,
      writtenSince,
      totalEntries: null,
      noSweep: false,
      streams,
      mayWindow: !incremental && this.spec.windowField !== undefined,
      listUrl,
      changed: false,
      serverTime: null,
    };
  }

  /** The first page of the object's list, with the run's page size and `--since`, plus `extra`. */
  private listUrl(extra: { updatedSince?: string; running?: boolean } = {}): string {
    const { options } = this.run;
    const source = this.source;
    const windowed = options.since !== undefined && this.spec.sinceField !== undefined;
    return source.firstPageUrl(this.spec, {
      perPage: options.perPage ?? MAX_PER_PAGE,
      ...extra,
      ...(windowed ? { from: options.since } : {}),
    });
  }

  /**
   * Completes a full pass whose streams are all read. The rows it did not see would be marked
   * deleted; a record can slide past a page-numbered read while others change, so each is first
   * checked with Harvest (GET by id): those it still has are written, only its 404s are swept.
   */
  private async finishPass(tables: ObjectTables, pass: ActivePass): Promise<void> {
    const live = pass.noSweep ? [] : await this.checkUnseen(tables, pass);
    const records = live ?? [];
    const batch = await this.buildPage(tables, records, this.spec.endpoint);
    const result = await this.run.write(async () => {
      // Harvest's clock at the last page read; a resumed pass with nothing left to read has only its start
      const serverTime = pass.serverTime ?? pass.startedAt ?? iso(this.run.clock.now());
      const sweeps = live !== null && pass.sweepSince !== undefined && !pass.noSweep;
      const state = this.nextState({ ...pass, noSweep: !sweeps }, [], true, serverTime);
      const written = await this.run.destination.writeBatch({
        table: tables.main.table,
        rows: batch.rows,
        children: batch.children,
        records,
        state,
        ...(sweeps ? { sweep: this.sweepOf(tables, pass) } : {}),
      });
      this.state = state;
      return written;
    });
    this.countPage(tables, pass, { records, result, page: false });
  }

  /**
   * The records Harvest still has among the rows the pass did not see (at most MAX_CHECKED_UNSEEN
   * GETs), or null when there are more and the list may have changed under the read: then nothing
   * is swept this time.
   */
  private async checkUnseen(tables: ObjectTables, pass: ActivePass): Promise<JsonObject[] | null> {
    const { destination } = this.run;
    const source = this.source;
    const since = pass.sweepSince as string;
    const ids = await this.run.write(() =>
      destination.unwrittenIds(tables.main.table, since, MAX_CHECKED_UNSEEN + 1),
    );
    if (ids.length > MAX_CHECKED_UNSEEN) {
      if (await this.stoodStill(pass)) return [];
      this.note(
        `more than ${MAX_CHECKED_UNSEEN} ${this.spec.name} this full pass did not see, while Harvest changed under the read: too many to check one by one, so none was marked deleted; a full refresh (--full-refresh) while Harvest is quiet marks them`,
      );
      return null;
    }
    const live: JsonObject[] = [];
    await pool(ids, this.run.concurrency, async (id) => {
      const record = await source.fetchRecord(this.spec, id, this.signal);
      if (record !== null) live.push(record);
    });
    return live;
  }

  /**
   * Whether nothing changed in the list while this pass read it, so that no record can have slid
   * past: no stream's total_entries moved (a deletion shows there), and Harvest lists no record
   * updated since the pass began (a creation or a move that could hide a deletion shows there).
   */
  private async stoodStill(pass: ActivePass): Promise<boolean> {
    if (pass.changed || !this.spec.incremental || pass.startedAt === null) return false;
    const url = this.source.firstPageUrl(this.spec, {
      perPage: 1,
      updatedSince: iso(Date.parse(pass.startedAt) - CURSOR_OVERLAP_MS),
    });
    const page = await this.source.fetchPage(this.spec, url, this.signal);
    return page.totalEntries === 0;
  }

  /** Reads a page once the run's page budget has room; the caller releases the slot when done with it. */
  private fetch(url: string, signal: AbortSignal): Promise<{ page: HarvestPage; release: () => void }> {
    const promise = this.run.pages.acquire(signal).then(async (release) => {
      try {
        return { page: await this.source.fetchPage(this.spec, url, signal), release };
      } catch (error) {
        release();
        throw error;
      }
    });
    // Awaited later (after the current page is written); until then a rejection is not unhandled.
    promise.catch(() => undefined);
    return promise;
  }

  /** Checks ids, adds columns for new fields, then maps the page: all or nothing of it is written. */
  private async buildPage(
    tables: ObjectTables,
    records: readonly JsonObject[],
    url: string,
  ): Promise<{ rows: Row[]; children: ChildRows[] }> {
    const added = new Map<TableMapper, Map<string, Column>>();
    const noteDrift = (mapper: TableMapper, record: JsonObject) => {
      const columns = mapper.undeclared(record);
      if (columns.length === 0) return;
      let pending = added.get(mapper);
      if (!pending) added.set(mapper, (pending = new Map()));
      for (const column of columns) if (!pending.has(column.name)) pending.set(column.name, column);
    };
    for (const record of records) {
      this.checkId(record, url, this.spec.name);
      noteDrift(tables.main, record);
      for (const { field, mapper } of tables.children) {
        const items = record[field];
        if (!Array.isArray(items)) continue;
        for (const item of items) {
          if (item === null || typeof item !== 'object' || Array.isArray(item)) {
            throw new SyncDataError(
              `${this.spec.name}: record ${String(record.id)} on page ${this.pages + 1} (GET ${pathOf(url)}) has a ${field} entry that is not an object; nothing of this page was written`,
            );
          }
          this.checkId(item, url, `${mapper.table} of ${this.spec.name} ${String(record.id)}`);
          noteDrift(mapper, item);
        }
      }
    }
    for (const [mapper, columns] of added) await this.addColumns(mapper, [...columns.values()]);

    const rows = records.map((record) => tables.main.row(record));
    const children: ChildRows[] =
      records.length === 0
        ? []
        : tables.children.map(({ field, mapper }) => {
            const parentIds: number[] = [];
            const childRows: Row[] = [];
            for (const record of records) {
              const items = record[field];
              // A parent whose record does not carry the array at all tells nothing about its
              // children; only one that lists them (even as []) has the others marked deleted.
              if (!Array.isArray(items)) continue;
              const parentId = record.id as number;
              parentIds.push(parentId);
              for (const item of items) childRows.push(mapper.row(item as JsonObject, parentId));
            }
            return { table: mapper.table, parentIds, rows: childRows };
          });
    return { rows, children };
  }

  private checkId(record: JsonObject, url: string, what: string): void {
    const id = record.id;
    if (typeof id === 'number' && Number.isInteger(id)) return;
    const got = id === undefined ? 'none' : JSON.stringify(id).slice(0, 40);
    throw new SyncDataError(
      `${what}: a record on page ${this.pages + 1} (GET ${pathOf(url)}) has no numeric id (got ${got}); nothing of this page was written`,
    );
  }

  private async addColumns(mapper: TableMapper, columns: readonly Column[]): Promise<void> {
    const all = await this.run.write(() => this.run.destination.addColumns(mapper.table, columns));
    mapper.setColumns(all);
    for (const column of columns) {
      this.run.emit({
        type: 'schema:column-added',
        table: mapper.table,
        column: column.name,
        columnType: column.type,
      });
    }
  }

  /** The state written with a page: the streams' positions mid-pass, the new cursor at its end. */
  private nextState(
    pass: ActivePass,
    streams: readonly StreamState[],
    done: boolean,
    serverTime: string,
  ): ObjectState {
    const previous = this.state;
    const startedAt = pass.startedAt ?? serverTime;
    if (!done) {
      const position: PassState = {
        mode: pass.mode,
        startedAt,
        streams,
        ...(pass.sweepSince !== undefined ? { sweepSince: pass.sweepSince } : {}),
        ...(pass.writtenSince !== undefined ? { writtenSince: pass.writtenSince } : {}),
        ...(pass.totalEntries !== null ? { totalEntries: pass.totalEntries } : {}),
        ...(pass.noSweep ? { noSweep: true } : {}),
      };
      return {
        object: this.spec.name,
        cursor: previous?.cursor ?? null,
        pass: position,
        lastFullPassAt: previous?.lastFullPassAt ?? null,
      };
    }
    // The cursor becomes the pass's start, not the newest updated_at seen: Harvest lists by business
    // date, so a record edited while the pass ran may sit on a page already read.
    const swept = pass.sweepSince !== undefined && !pass.noSweep;
    return {
      object: this.spec.name,
      cursor: startedAt,
      pass: null,
      lastFullPassAt: swept ? serverTime : (previous?.lastFullPassAt ?? null),
    };
  }

  private failure(error: unknown): ObjectResult {
    if (error instanceof HarvestApiError && error.status === 401) {
      const message = this.named(userMessage(error));
      this.run.failAll(message);
      this.run.noteFailure(message);
      return this.finish('failed', message);
    }
    if (this.run.signal.aborted) return this.stopped();
    // Only before this run wrote a page of the object: a 403 later means something changed mid-pass.
    if (isPermissionError(error) && this.pages === 0) {
      return this.finish('skipped', this.named(userMessage(error)));
    }
    const message = this.named(userMessage(error));
    this.run.noteFailure(message);
    return this.finish('failed', message);
  }

  /** The run was stopped: by the caller (interrupted) or by another object's fatal failure. */
  private stopped(): ObjectResult {
    if (this.run.fatal !== undefined) return this.finish('failed', `not finished: ${this.run.fatal}`);
    return this.finish('interrupted', 'interrupted before the pass completed');
  }

  private named(message: string): string {
    const line = message.split('\n')[0];
    return line.startsWith(`${this.spec.name}:`) ? line : `${this.spec.name}: ${line}`;
  }

  private finish(status: ObjectResult['status'], reason?: string): ObjectResult {
    const stats = this.source.stats(this.spec.name);
    const result: ObjectResult = {
      object: this.spec.name,
      status,
      mode: this.mode,
      ...(reason !== undefined ? { reason } : {}),
      read: this.read,
      ...this.counts,
      pages: this.pages,
      calls: stats.calls - this.statsBefore.calls,
      rateLimitWaits: stats.rateLimitWaits - this.statsBefore.rateLimitWaits,
      retries: stats.retries - this.statsBefore.retries,
      seconds: Math.round(this.run.clock.now() - this.started) / 1000,
      cursor: this.state?.cursor ?? null,
      ...(this.windows > 0 ? { windows: this.windows } : {}),
      ...(this.notices.length > 0 && status === 'succeeded' ? { notice: this.notices.join('; ') } : {}),
    };
    this.run.emit({ type: 'object:done', result });
    return result;
  }
}

const NO_ROWS: RowCounts = { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };

/** What a batch did to the object's rows: its own table's counts, and deletions in every table. */
function rowCounts(result: BatchResult, mainTable: string): RowCounts {
  const main = result.tables[mainTable];
  let deleted = 0;
  for (const counts of Object.values(result.tables)) deleted += counts.deleted;
  return {
    inserted: main?.inserted ?? 0,
    updated: main?.updated ?? 0,
    unchanged: main?.unchanged ?? 0,
    deleted,
  };
}

function addCounts(a: RowCounts, b: RowCounts): RowCounts {
  return {
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    deleted: a.deleted + b.deleted,
  };
}

function emptyResult(
  object: string,
  status: ObjectResult['status'],
  mode: PassMode,
  reason: string,
): ObjectResult {
  return {
    object,
    status,
    mode,
    reason,
    read: 0,
    ...NO_ROWS,
    pages: 0,
    calls: 0,
    rateLimitWaits: 0,
    retries: 0,
    seconds: 0,
    cursor: null,
  };
}

/** The streams of a saved pass; a pass saved before streams existed is one stream at its nextUrl. */
function streamsOf(pass: PassState): StreamState[] | null {
  if (pass.streams && pass.streams.length > 0) return [...pass.streams];
  return pass.nextUrl ? [{ firstUrl: pass.nextUrl, nextUrl: pass.nextUrl }] : null;
}

/** The date window a stream reads, or undefined for a stream over the whole list. */
function windowOf(state: StreamState): DateWindow | undefined {
  if (state.from === undefined && state.to === undefined) return undefined;
  return {
    ...(state.from !== undefined ? { from: state.from } : {}),
    ...(state.to !== undefined ? { to: state.to } : {}),
  };
}

/** A query parameter of an absolute URL, or null. */
function paramOf(url: string, name: string): string | null {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return null;
  }
}

/** A stream's count of written rows after a page that added `fresh` (unknown stays unknown). */
function tallied(written: number | undefined, fresh: number | undefined): number | undefined {
  return written === undefined || fresh === undefined ? undefined : written + fresh;
}

function withoutTotal(state: StreamState): StreamState {
  const { totalEntries: _total, ...rest } = state;
  return rest;
}

/** Runs `task` over `items` with at most `width` at once. */
async function pool<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  };
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, worker));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Path and query of a URL, for messages: never its origin (which could carry credentials). */
function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url.slice(0, 200);
  }
}
