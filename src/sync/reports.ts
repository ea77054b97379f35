import { createHash } from 'node:crypto';
import { findObject } from '../catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../catalog/types.js';
import { CatalogError } from '../errors.js';
import { isPermissionError } from '../harvest/errors.js';
import type { FirstPageQuery, HarvestPage, HarvestSource, SourceStats } from '../harvest/types.js';
import { SyncDataError } from './errors.js';

/*
 * Harvest's reports (`/v2/reports/…`): no id, no updated_at, and a budget of their own (100 calls
 * per 15 minutes, kept by the client's second rate limiter).
 *
 * A report is read as windows of at most a year, from the account's first date (the oldest time
 * entry or expense; probed on a report's first run and on a full refresh, kept in its state
 * between) or `--since`, to the window holding today. The engine reads them as one pass
 * over a "page" source whose pages are whole windows, chained by nextUrl: a full pass reads every
 * window, an incremental one only the window its cursor fell in and those after it (the current
 * period, and the one that just closed). Each row carries its window (`from`, `to`, `window_id`) and
 * an id computed from the window and the report's key fields, so reading a window again replaces it
 * exactly: rows the window no longer has are marked deleted (HarvestPage.parentIds = the window).
 * The project budget report takes no dates: its rows describe the day they were read, one per project.
 */

/** Query parameter of the pass's first URL (never sent): where an incremental pass starts. */
const FROM_CURSOR = 'harvest_sync_cursor';
const PAGE_SIZE = 2000;

/** What a report's windows depend on besides Harvest. */
export interface ReportContext {
  /** `--since` (YYYY-MM-DD): the first window starts there rather than at the account's first date. */
  readonly since?: string;
  readonly now: () => number;
  /**
   * Kept with the object's state between runs (ObjectState.firstDate): the account's first date
   * once known, so only a report's first run (and a full refresh, which starts it empty) probes.
   */
  readonly kept?: { firstDate?: string };
}

/** The account's first business date, per source: probed once per run, shared by its reports. */
const firstDates = new WeakMap<HarvestSource, Promise<string | null>>();

export class ReportSource implements HarvestSource {
  private readonly source: HarvestSource;
  private readonly spec: ObjectSpec;
  private readonly context: ReportContext;

  constructor(source: HarvestSource, spec: ObjectSpec, context: ReportContext) {
    if (!spec.report) throw new CatalogError(`${spec.name} is not a report`);
    this.source = source;
    this.spec = spec;
    this.context = context;
  }

  /** A placeholder for the first window (found once the account's first date is known). */
  firstPageUrl(_object: ObjectSpec, query: FirstPageQuery): string {
    const url = new URL(this.source.firstPageUrl(this.spec, { perPage: PAGE_SIZE }));
    if (query.updatedSince !== undefined) url.searchParams.set(FROM_CURSOR, query.updatedSince.slice(0, 10));
    return url.toString();
  }

  async fetchPage(_object: ObjectSpec, href: string, signal?: AbortSignal): Promise<HarvestPage> {
    const url = new URL(href);
    if (this.spec.report?.window === 'none') return this.snapshot(href, signal);
    let from = fromCompact(url.searchParams.get('from'));
    if (from === null) from = await this.firstWindow(url.searchParams.get(FROM_CURSOR), signal);
    const to = lastDay(from);
    const page = await this.readAll(this.windowUrl(from, to), signal);
    const windowId = Number(compact(from));
    const records = this.distinct(page.records.map((row) => this.row(row, from, to)));
    const next = to < this.today() ? this.windowUrl(addDays(to, 1), lastDay(addDays(to, 1))) : null;
    return { ...page, records, nextUrl: next, parentIds: [windowId] };
  }

  /** A report row has no GET of its own: a full pass read every window, so one it did not see is gone. */
  async fetchRecord(): Promise<JsonObject | null> {
    return null;
  }

  stats(object: string): SourceStats {
    return this.source.stats(object);
  }

  private today(): string {
    return new Date(this.context.now()).toISOString().slice(0, 10);
  }

  /** Every page of one URL, as one. */
  private async readAll(first: string, signal?: AbortSignal): Promise<HarvestPage> {
    const seen = new Set<string>();
    const records: JsonObject[] = [];
    let url: string | null = first;
    let page: HarvestPage | undefined;
    while (url !== null) {
      if (seen.has(url)) throw new SyncDataError(`${this.spec.name}: Harvest's links.next loops`);
      seen.add(url);
      page = await this.source.fetchPage(this.spec, url, signal);
      records.push(...page.records);
      url = page.nextUrl;
    }
    // a whole window is one page to the engine: no page-numbered list to watch for shifts
    return { ...(page as HarvestPage), records, nextUrl: null, totalEntries: null };
  }

  /** The project budget report: today's figures, one row per project. */
  private async snapshot(href: string, signal?: AbortSignal): Promise<HarvestPage> {
    const page = await this.readAll(href, signal);
    const today = this.today();
    return { ...page, records: this.distinct(page.records.map((row) => this.row(row, today, today, false))) };
  }

  /**
   * A window's rows with no id twice: two rows sharing one (the same key, or a hash collision) would
   * leave one of them silently overwritten, so the read fails instead, naming the rows.
   */
  private distinct(rows: JsonObject[]): JsonObject[] {
    const seen = new Map<unknown, JsonObject>();
    for (const row of rows) {
      const other = seen.get(row.id);
      if (other !== undefined) {
        const key = (r: JsonObject) => JSON.stringify((this.spec.report?.key ?? []).map((f) => r[f] ?? null));
        throw new SyncDataError(
          `${this.spec.name}: two rows of the window ${String(row.from)}..${String(row.to)} have the same id ${String(row.id)} (keys ${key(other)} and ${key(row)}); the report cannot be stored without losing one`,
        );
      }
      seen.set(row.id, row);
    }
    return rows;
  }

  /** A window's URL: its dates as Harvest's report examples write them (YYYYMMDD). */
  private windowUrl(from: string, to: string): string {
    return this.source.firstPageUrl(this.spec, { perPage: PAGE_SIZE, from: compact(from), to: compact(to) });
  }

  /** Where the pass starts: the window of its cursor (incremental), or the first one. */
  private async firstWindow(cursor: string | null, signal?: AbortSignal): Promise<string> {
    const start = this.context.since ?? (await this.firstDate(signal)) ?? this.today();
    if (cursor === null) return start;
    let from = start;
    while (lastDay(from) < cursor && lastDay(from) < this.today()) from = addDays(lastDay(from), 1);
    return from;
  }

  private async firstDate(signal?: AbortSignal): Promise<string | null> {
    const kept = this.context.kept;
    if (kept?.firstDate !== undefined) return kept.firstDate;
    let found = firstDates.get(this.source);
    if (!found) {
      found = oldestDate(this.source, this.spec.name, signal);
      firstDates.set(this.source, found);
      found.catch(() => firstDates.delete(this.source));
    }
    const date = await found;
    if (kept && date !== null) kept.firstDate = date;
    return date;
  }

  /** A report row as stored: its window, and an id from the window and the report's key. */
  private row(row: JsonObject, from: string, to: string, dated = true): JsonObject {
    const key = (this.spec.report?.key ?? []).map((field) => row[field] ?? null);
    const id = hashId(dated ? [from, to, ...key] : key);
    return { id, window_id: Number(compact(from)), from, to, ...row };
  }
}

/**
 * Calls a run that reads reports spends finding the account's first date (see oldestDate): two
 * lists, each its first page and its last record. Paid by a report's first run and by a full
 * refresh; other runs use the date kept in the report's state (ReportContext.kept).
 */
export const FIRST_DATE_CALLS = 4;

/**
 * The oldest business date of the account: of its oldest time entry and oldest expense (each the
 * last record of its list, newest first), read as the report's own calls on the main budget.
 */
async function oldestDate(source: HarvestSource, name: string, signal?: AbortSignal): Promise<string | null> {
  const dates: string[] = [];
  for (const object of ['time_entries', 'expenses']) {
    const spec = findObject(object);
    if (!spec) continue;
    const asReport = { ...spec, name };
    try {
      const first = await source.fetchPage(asReport, source.firstPageUrl(spec, { perPage: 1 }), signal);
      const total = first.totalEntries ?? first.records.length;
      if (total === 0) continue;
      const lastUrl = source.firstPageUrl(spec, { perPage: 1, page: total });
      const last = total === 1 ? first : await source.fetchPage(asReport, lastUrl, signal);
      const date = last.records[0]?.spent_date;
      if (typeof date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(date)) dates.push(date);
    } catch (error) {
      // a token that may not list expenses still has its reports: start from what it can see
      if (!isPermissionError(error)) throw error;
    }
  }
  return dates.length === 0 ? null : dates.sort()[0];
}

/**
 * A 52-bit id from the values that tell a report row apart: exact in every destination's BIGINT and
 * in a JavaScript number. Two rows of one table share an id with a chance of about n² ÷ 2⁵³ for n
 * rows (10⁻⁸ at 10,000 rows); within a window the read fails rather than keep one (distinct()).
 */
export function hashId(values: readonly unknown[]): number {
  const hex = createHash('sha256').update(JSON.stringify(values)).digest('hex');
  return Number.parseInt(hex.slice(0, 13), 16);
}

const compact = (date: string) => date.replaceAll('-', '');

function fromCompact(value: string | null): string | null {
  if (value === null) return null;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The last day of the year-long window starting at `from`: the day before the same date a year on. */
function lastDay(from: string): string {
  const [y, m, d] = from.split('-').map(Number);
  const next = new Date(Date.UTC(y + 1, m - 1, d));
  return addDays(next.toISOString().slice(0, 10), -1);
}
