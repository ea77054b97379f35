import type { StreamState } from '../destinations/destination.js';
import { MAX_STREAM_RESTARTS } from './limits.js';

/*
 * Drift: a page-numbered list changing under its read, so that a record may slide past onto a page
 * already read. Each check answers with a verdict; ObjectSync.actOn is the one place that acts on it.
 */

/**
 * ok: read on. restart: read the stream again from its top. no-sweep: it would need a restart but
 * has had its share (MAX_STREAM_RESTARTS): read on, and let the pass mark no deletions, so an
 * unread record never looks deleted.
 */
export type Verdict = 'ok' | 'restart' | 'no-sweep';

/** What a stream that may have let a record slide past does: restart while it may, else no-sweep. */
export function slideVerdict(stream: StreamState, slid: boolean): Verdict {
  if (!slid) return 'ok';
  return (stream.restarts ?? 0) < MAX_STREAM_RESTARTS ? 'restart' : 'no-sweep';
}

/**
 * A page-numbered list whose total_entries fell since the stream's first page had records deleted
 * ahead of the read: the rest slid forward and one may have slid past unread.
 */
export function shrinkVerdict(stream: StreamState, total: number | null): Verdict {
  const before = stream.totalEntries;
  const shrank = before !== undefined && total !== null && total < before;
  return slideVerdict(stream, shrank);
}

/**
 * At the last page of a list read over several pages: fewer distinct records written by this read
 * (`written`, the page's own included) than Harvest now counts (`total`) means one slid past unread
 * (a record created or moved ahead of the read while another was deleted, or one moved from ahead of
 * it to behind it: the total alone does not change).
 */
export function countVerdict(stream: StreamState, written: number, total: number): Verdict {
  return slideVerdict(stream, written < total);
}
