import { childTable, objectTable } from '../catalog/schema.js';
import type { Column, JsonObject, JsonValue, ObjectSpec, Row } from '../catalog/types.js';
import type { Clock } from '../clock.js';
import type {
  BatchResult,
  ChildRows,
  Destination,
  ObjectState,
  StreamState,
} from '../destinations/destination.js';
import { userMessage } from '../errors.js';
import { HarvestApiError, isPermissionError } from '../harvest/errors.js';
import type { HarvestPage, HarvestSource, SourceStats } from '../harvest/types.js';
import { countVerdict, shrinkVerdict } from './drift.js';
import type { Verdict } from './drift.js';
import { SyncDataError } from './errors.js';
import { ownedByParents, sourceFor } from './sources.js';
import { CURSOR_OVERLAP_MS, MAX_CHECKED_UNSEEN, MAX_PER_PAGE } from './limits.js';
import type { PageBudget } from './page-budget.js';
import { advanced, newPass, restarted, resumePass, stateAfter, tallied, windowOf } from './pass-state.js';
import type { ActivePass, Stream } from './pass-state.js';
import { NO_ROWS, addCounts, iso, paramOf, pathOf, pool, rowCounts } from './results.js';
import { TableMapper } from './table-mapper.js';
import type { ObjectResult, PassMode, RowCounts, SyncEvent, SyncOptions } from './types.js';
import { dateOf, inWindow, tileDates, windowCount } from './windows.js';

/** What an object's sync needs of the run it is part of (SyncRun in engine.ts). */
export interface RunContext {
  readonly options: SyncOptions;
  readonly clock: Clock;
  readonly source: HarvestSource;
  readonly destination: Destination;
  /** Aborted by the caller, or by a failure that makes going on pointless (401, refused TLS certificate). */
  readonly signal: AbortSignal;
  /** Requests the run may have in flight: objects read side by side, or windows of one object. */
  readonly concurrency: number;
  /** One page in memory per request in flight, plus one read ahead. */
  readonly pages: PageBudget;
  /** Of those, the pages parsed (records in the heap): taken just before a body is parsed. */
  readonly parsed: PageBudget;
  /** Set when the run was stopped because of a failure rather than by the caller. */
  readonly fatal: string | undefined;
  /** Runs a destination call after every earlier one has finished (one writer at a time). */
  write<T>(task: () => Promise<T>): Promise<T>;
  emit(event: SyncEvent): void;
  failAll(message: string): void;
  noteFailure(message: string): void;
}

/** A page just read, and where it belongs. */
interface PageAt {
  readonly tables: ObjectTables;
  readonly pass: ActivePass;
  readonly stream: Stream;
  /** The stream's URLs read so far (loop protection). */
  readonly seen: Set<string>;
  readonly url: string;
  readonly page: HarvestPage;
  /** Starts reading the next page while this one is written. */
  readonly readAhead: (next: string) => void;
}

/** A page ready to be written: its records (as kept), mapped rows, and what the read decided. */
interface PageCommit {
  readonly at: PageAt;
  readonly records: readonly JsonObject[];
  readonly batch: { readonly rows: Row[]; readonly children: ChildRows[] };
  /** The list shrank under the stream: read it again from its top. */
  readonly restart: boolean;
  /** The date windows the rest of the pass is split into, after its first page. */
  readonly windows: StreamState[] | undefined;
}

/** The tables of one object, each with its mapper; the object's own table first. */
interface ObjectTables {
  readonly main: TableMapper;
  readonly children: ReadonlyArray<{ readonly field: string; readonly mapper: TableMapper }>;
}

/** Harvest answered a date window's first page with records outside it: it ignores `from`/`to`. */
class FilterIgnored extends Error {}

/** What became of a stream once a page of it was written. */
type Step = 'next' | 'restart' | 'done' | 'split';

/**
 * Failures that would end every other object's call the same way, so the first stops the run:
 * a rejected token (401), and a refused TLS certificate (HARVEST_TLS: the same origin for every
 * object, never retried). Only requests already in flight when it comes make an attempt of their own.
 */
function failsTheRun(error: unknown): error is HarvestApiError {
  return error instanceof HarvestApiError && (error.status === 401 || error.code === 'HARVEST_TLS');
}

/** One object's part of a run: reads its pass page by page and writes each page with its state. */
export class ObjectSync {
  private readonly run: RunContext;
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
  /** What a report's source keeps between runs (ReportContext.kept), saved with the object's state. */
  private readonly kept: { firstDate?: string } = {};

  constructor(run: RunContext, spec: ObjectSpec) {
    this.run = run;
    this.spec = spec;
    this.started = run.clock.now();
    const { since } = run.options;
    this.source = sourceFor(run.source, spec, { since, now: () => run.clock.now(), kept: this.kept });
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
          const readAhead = (next: string) => (fetching = this.fetch(next, signal));
          step = await this.syncPage({ tables, pass, stream, seen, url, page, readAhead });
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
  private async syncPage(at: PageAt): Promise<Step> {
    const { pass, stream, url, page } = at;
    this.checkFilters(stream, url, page);
    pass.startedAt ??= page.serverTime;
    pass.totalEntries ??= page.totalEntries;
    pass.serverTime = page.serverTime;
    const next = page.nextUrl;
    this.checkLoop(at.seen, url, next);
    const restart = this.actOn(pass, this.shrinkCheck(pass, stream, page));
    let windows: StreamState[] | undefined;
    let records = page.records;
    if (pass.mayWindow) {
      pass.mayWindow = false;
      windows = next === null ? undefined : await this.planWindows(page);
      // the newest window, open above, reads this page's records again
      if (windows) records = [];
    }
    // One page ahead at most, and only when the run's page budget allows.
    if (next !== null && !restart && !windows && !this.signal.aborted) at.readAhead(next);
    const batch = ownedByParents(await this.buildPage(at.tables, records, url), at.tables.main.table, page);
    const committed = await this.run.write(() => this.commitPage({ at, records, batch, restart, windows }));
    this.countPage(at.tables, pass, { records, result: committed.result, page: true });
    if (this.run.signal.aborted) throw this.run.signal.reason;
    if (windows) return 'split';
    if (committed.restarted) return 'restart';
    return next === null ? 'done' : 'next';
  }

  /** links.next pointing at a URL this stream already read means Harvest sends us round in circles. */
  private checkLoop(seen: Set<string>, url: string, next: string | null): void {
    if (next === null) return;
    if (seen.has(next)) {
      throw new SyncDataError(
        `${this.spec.name}: Harvest's links.next on page ${this.pages + 1} (GET ${pathOf(url)}) points back to ${pathOf(next)}, already read in this pass: pagination loops, stopped reading ${this.spec.name}`,
      );
    }
    seen.add(next);
  }

  /**
   * Writes a page with the state that follows it, in the write queue: the stream's new position
   * (decided now, from the other streams' committed positions), and the sweep on the pass's last page.
   */
  private async commitPage(commit: PageCommit): Promise<{ result: BatchResult; restarted: boolean }> {
    const { at, records, batch, windows } = commit;
    const { pass, stream, page } = at;
    const { destination } = this.run;
    const next = page.nextUrl;
    const since = stream.state.writtenSince ?? pass.writtenSince;
    const restart =
      commit.restart ||
      (next === null &&
        this.actOn(pass, await this.countCheck({ pass, stream, url: at.url, page, records })));
    const total = this.spec.paging === 'page' ? page.totalEntries : null;
    const position = restart
      ? restarted(stream.state, await destination.now())
      : advanced(stream.state, next, total);
    const streams = windows ?? pass.streams.map((s) => (s === stream ? position : s.state));
    // The only page of a pass read in one request is Harvest's list at one instant: nothing slid past.
    const single = !pass.resumed && this.pages === 0 && pass.streams.length === 1 && next === null;
    // A pass that may sweep checks the rows it did not see before it completes (finishPass).
    const done = streams.every((s) => s.nextUrl === null) && (single || !this.checksUnseen(pass));
    const state = this.stateAfter(pass, streams, done, page.serverTime);
    const sweeps = done && pass.sweepSince !== undefined && !pass.noSweep;
    const result = await destination.writeBatch({
      table: at.tables.main.table,
      rows: batch.rows,
      children: batch.children,
      records,
      state,
      ...(sweeps ? { sweep: this.sweepOf(at.tables, pass) } : {}),
      ...(this.spec.paging === 'page' && since !== undefined ? { freshSince: since } : {}),
    });
    const fresh = result.tables[at.tables.main.table]?.fresh;
    if (windows) {
      pass.streams = windows.map((w) => ({ state: w, written: 0 }));
      this.windows = windows.length;
    } else {
      stream.state = position;
      // a stream read again counts in the table at its end: the page that restarts it is stamped
      // after the new attempt's start, so its rows would not count as fresh when read again
      stream.written = restart ? undefined : tallied(stream.written, fresh);
    }
    this.state = state;
    return { result, restarted: restart };
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
      // a page's records share a handful of dates: each distinct value is checked once
      let last: JsonValue | undefined;
      let lastInside = false;
      const outside = page.records.find((record) => {
        const value = record[field];
        if (value !== last) {
          const date = dateOf(value);
          last = value;
          lastInside = date !== null && inWindow(date, window);
        }
        return !lastInside;
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
   * The one place a drift verdict (see drift.ts) is acted on: true when the stream must be read
   * again from its top; no-sweep lets the pass go on but mark no deletions.
   */
  private actOn(pass: ActivePass, verdict: Verdict): boolean {
    if (verdict === 'no-sweep') pass.noSweep = true;
    return verdict === 'restart';
  }

  /** Did the list shrink under this stream since its first page? (Keyset lists do not shift.) */
  private shrinkCheck(pass: ActivePass, stream: Stream, page: HarvestPage): Verdict {
    const before = stream.state.totalEntries;
    if (this.spec.paging !== 'page') return 'ok';
    if (before !== undefined && page.totalEntries !== null && page.totalEntries !== before)
      pass.changed = true;
    return shrinkVerdict(stream.state, page.totalEntries);
  }

  /**
   * At the last page of a page-numbered list read over several pages: did this read write as many
   * distinct records as Harvest now counts? Runs inside the write queue, so the count sees every
   * committed page of the stream and nothing of the others' in flight.
   */
  private async countCheck(read: {
    pass: ActivePass;
    stream: Stream;
    url: string;
    page: HarvestPage;
    records: readonly JsonObject[];
  }): Promise<Verdict> {
    const { pass, stream, url, page, records } = read;
    const since = stream.state.writtenSince ?? pass.writtenSince;
    const expected = page.totalEntries;
    if (this.spec.paging !== 'page' || since === undefined || expected === null) return 'ok';
    if (url === stream.state.firstUrl) return 'ok'; // one page: nothing can slide past it
    const counted = await this.countWritten(stream, since, records);
    return countVerdict(stream.state, counted + records.length, expected);
  }

  /** Distinct rows this attempt at the stream wrote before this page (its `records` left out). */
  private async countWritten(stream: Stream, since: string, records: readonly JsonObject[]): Promise<number> {
    const ids = records.map((r) => r.id as number);
    if (stream.written !== undefined) {
      // counted while writing: no scan of the table, only this page's ids looked up
      const again =
        ids.length === 0 ? 0 : await this.run.destination.countWritten(this.spec.name, { since, ids });
      return stream.written - again;
    }
    const window = windowOf(stream.state);
    const field = this.spec.windowField;
    return this.run.destination.countWritten(this.spec.name, {
      since,
      ...(window && field !== undefined ? { range: { column: field, ...window } } : {}),
      exceptIds: ids,
    });
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
    // Pages as Harvest serves them: a first page with a next one is full, and may hold fewer
    // records than asked (Harvest's recorded 2019 lists: 100 a page whatever per_page said).
    const pageSize = first.nextUrl === null ? perPage : Math.min(perPage, first.records.length);
    const count = windowCount(Math.ceil((total - first.records.length) / pageSize), this.run.concurrency);
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
    // a full refresh finds the account's first date again (older records may have been added)
    const firstDate = this.state?.firstDate;
    if (firstDate !== undefined && !this.run.options.fullRefresh) this.kept.firstDate = firstDate;
    return { main, children };
  }

  /** Resumes the pass an earlier run left unfinished, or starts a new one. */
  private async choosePass(): Promise<ActivePass> {
    const saved = this.state?.pass;
    // A full refresh supersedes an unfinished incremental pass; any other unfinished pass resumes
    // exactly as it was.
    if (saved && !(this.run.options.fullRefresh && saved.mode === 'incremental')) {
      const pass = resumePass(saved, this.listUrl());
      this.mode = pass.mode;
      this.windows = pass.streams.some((s) => windowOf(s.state) !== undefined) ? pass.streams.length : 0;
      return pass;
    }
    return this.startPass();
  }

  private async startPass(): Promise<ActivePass> {
    const { options, destination } = this.run;
    const cursor = this.state?.cursor ?? null;
    const since = cursor === null ? Number.NaN : Date.parse(cursor);
    const incremental = this.spec.incremental && !options.fullRefresh && !Number.isNaN(since);
    this.mode = incremental ? 'incremental' : 'full';
    const listUrl = this.listUrl();
    const firstUrl = incremental ? this.listUrl({ updatedSince: iso(since - CURSOR_OVERLAP_MS) }) : listUrl;
    const streams: StreamState[] = [{ firstUrl, nextUrl: firstUrl }];
    // Running timers' hours grow while their updated_at stays: an incremental pass reads them again.
    if (incremental && this.spec.runningFilter !== undefined) {
      const running = this.listUrl({ running: true });
      streams.push({ firstUrl: running, nextUrl: running });
    }
    // A full pass over a `since` window does not see older records, so it must not sweep them away.
    const windowed = options.since !== undefined && this.spec.sinceField !== undefined;
    const writtenSince = await this.run.write(() => destination.now());
    const pass = newPass({
      mode: this.mode,
      streams,
      listUrl,
      writtenSince,
      sweeps: !incremental && !windowed,
      mayWindow: !incremental && this.spec.windowField !== undefined,
    });
    // A lone stream counts what it writes as it goes (see Stream.written); two that may read the same
    // records (the running timers) count in the table at their ends.
    if (pass.streams.length === 1) pass.streams[0].written = 0;
    return pass;
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
      const state = this.stateAfter({ ...pass, noSweep: !sweeps }, [], true, serverTime);
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

  /**
   * Reads a page once the run's page budget has room, and parses it once the parsed-page budget has;
   * the caller releases both when done with the page.
   */
  private fetch(url: string, signal: AbortSignal): Promise<{ page: HarvestPage; release: () => void }> {
    const promise = this.run.pages.acquire(signal).then(async (releasePage) => {
      let releaseParsed: (() => void) | undefined;
      const release = () => {
        releaseParsed?.();
        releasePage();
      };
      // a retried attempt parses under the slot its first attempt took
      const beforeParse = async () => {
        releaseParsed ??= await this.run.parsed.acquire(signal);
      };
      try {
        return { page: await this.source.fetchPage(this.spec, url, signal, beforeParse), release };
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
    return { rows, children: records.length === 0 ? [] : childRowsOf(tables, records) };
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

  /** The state written with a page (see pass-state.ts stateAfter). */
  private stateAfter(
    pass: ActivePass,
    streams: readonly StreamState[],
    done: boolean,
    serverTime: string,
  ): ObjectState {
    const { firstDate } = this.kept;
    return stateAfter({
      object: this.spec.name,
      previous: this.state,
      pass,
      streams,
      done,
      serverTime,
      firstDate,
    });
  }

  private failure(error: unknown): ObjectResult {
    if (failsTheRun(error)) {
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

  /** The run was stopped: by the caller (interrupted) or by another object's fatal failure (failsTheRun). */
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

/** The child rows (line items) of a page's records, per child table. */
function childRowsOf(tables: ObjectTables, records: readonly JsonObject[]): ChildRows[] {
  return tables.children.map(({ field, mapper }) => {
    const parentIds: number[] = [];
    const rows: Row[] = [];
    for (const record of records) {
      const items = record[field];
      // A parent whose record does not carry the array at all tells nothing about its children;
      // only one that lists them (even as []) has the others marked deleted.
      if (!Array.isArray(items)) continue;
      const parentId = record.id as number;
      parentIds.push(parentId);
      for (const item of items) rows.push(mapper.row(item as JsonObject, parentId));
    }
    return { table: mapper.table, parentIds, rows };
  });
}
