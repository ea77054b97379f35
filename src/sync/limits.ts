import { CONCURRENCY, PER_PAGE } from '../limits.js';

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
 * Pages of a run parsed into records and not yet written: one being written, one ready behind it.
 * More requests may be in flight (they hide Harvest's latency); their bodies wait unparsed.
 */
export const PARSED_PAGES = 2;

/**
 * The page size asked for (per_page, sent on every list call) unless SyncOptions.perPage says
 * otherwise: the most Harvest gives, the fewest calls. Never Harvest's default
 * (ObjectSpec.defaultPerPage), which is only 100 for invoices.
 */
export const MAX_PER_PAGE = PER_PAGE.max;

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
