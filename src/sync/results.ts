import type { BatchResult } from '../destinations/destination.js';
import { reasonsLine } from '../harvest/errors.js';
import type { ObjectResult, PassMode, RowCounts, SyncResult } from './types.js';

/* Counting what a run did, and how it ended. */

export const NO_ROWS: RowCounts = { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };

/** What a batch did to the object's rows: its own table's counts, and deletions in every table. */
export function rowCounts(result: BatchResult, mainTable: string): RowCounts {
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

export function addCounts(a: RowCounts, b: RowCounts): RowCounts {
  return {
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    deleted: a.deleted + b.deleted,
  };
}

/** The result of an object the run never read (its options were invalid). */
export function emptyResult(
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

/**
 * How a run ended, from its objects: failed if one failed, interrupted if one was, else succeeded,
 * except that a run in which every object was skipped synced nothing: it fails, saying why.
 */
export function runOutcome(
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

/** Runs `task` over `items` with at most `width` at once. */
export async function pool<T>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  };
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, worker));
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Path and query of a URL, for messages: never its origin (which could carry credentials). */
export function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url.slice(0, 200);
  }
}

/** A query parameter of an absolute URL, or null. */
export function paramOf(url: string, name: string): string | null {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return null;
  }
}
