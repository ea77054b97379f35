/**
 * Date windows: how a long full pass of a dated object (time entries, expenses) is split so that
 * several requests can be in flight for one object.
 *
 * Why windows and not page numbers: Harvest's page-numbered lists shift when a record is created
 * or deleted mid-read, and pages read out of order could then skip a record. A window is a list of
 * its own (`from`/`to` on the business date), read in order from its first page, so a change in
 * one window shifts nothing in the others, and a shrink (a deletion) costs a re-read of one window,
 * not of the whole object.
 *
 * Why the outer windows are open: the split points come from two reads (the first page and a probe
 * of the oldest record) that Harvest may answer from different states of the list. A window set
 * that tiles the whole date line, the oldest without `from` and the newest without `to`, holds every
 * record whatever those reads saw; the reads only decide where the inner boundaries fall.
 */

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Below this many pages left after the first, a pass is read as one list: windows would not pay. */
export const MIN_PAGES_TO_SPLIT = 4;

export interface DateWindow {
  /** Inclusive bounds, YYYY-MM-DD; absent means unbounded on that side. */
  readonly from?: string;
  readonly to?: string;
}

/** The YYYY-MM-DD date a field holds (a date or a timestamp), or null. */
export function dateOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const day = value.slice(0, 10);
  return DATE.test(day) && !Number.isNaN(Date.parse(day)) ? day : null;
}

/**
 * Splits the inclusive range [oldest, newest] into at most `count` windows of whole days, as
 * equal as the days allow, newest first (recent data lands first). Returns [] when the range is
 * empty or invalid, and one window when it is a single day.
 */
export function splitDates(
  oldest: string,
  newest: string,
  count: number,
): Array<{ from: string; to: string }> {
  const first = Date.parse(oldest);
  const last = Date.parse(newest);
  if (!DATE.test(oldest) || !DATE.test(newest) || Number.isNaN(first) || Number.isNaN(last)) return [];
  if (last < first || count < 1) return [];
  const days = Math.round((last - first) / DAY_MS) + 1;
  const n = Math.min(Math.floor(count), days);
  const windows: Array<{ from: string; to: string }> = [];
  for (let i = n - 1; i >= 0; i--) {
    const start = first + Math.floor((i * days) / n) * DAY_MS;
    const end = first + (Math.floor(((i + 1) * days) / n) - 1) * DAY_MS;
    windows.push({ from: day(start), to: day(end) });
  }
  return windows;
}

/**
 * Windows that tile the date line from `lowest` (or from the beginning of time when undefined)
 * upwards, split as splitDates splits [oldest, newest], newest first: the newest window has no
 * upper bound and the oldest starts at `lowest`. Fewer than two windows → [] (read as one list).
 */
export function tileDates(
  split: { oldest: string; newest: string; count: number },
  lowest?: string,
): DateWindow[] {
  const ranges = splitDates(split.oldest, split.newest, split.count);
  if (ranges.length < 2) return [];
  return ranges.map(({ from, to }, i) => {
    const window: { from?: string; to?: string } = {};
    if (i === ranges.length - 1) {
      if (lowest !== undefined) window.from = lowest;
    } else window.from = from;
    if (i !== 0) window.to = to;
    return window;
  });
}

/** Whether `date` (YYYY-MM-DD) lies in the window, bounds inclusive. */
export function inWindow(date: string, window: DateWindow): boolean {
  return (window.from === undefined || date >= window.from) && (window.to === undefined || date <= window.to);
}

/** How many windows a pass with `pagesLeft` pages still to read gets, with `concurrency` requests at once. */
export function windowCount(pagesLeft: number, concurrency: number): number {
  if (concurrency < 2 || pagesLeft < MIN_PAGES_TO_SPLIT) return 0;
  // Twice the requests in flight, so a window that turns out long is not read alone at the end;
  // at least two pages each, since every window ends on a part-filled page (one extra call).
  return Math.min(concurrency * 2, Math.ceil(pagesLeft / 2));
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
