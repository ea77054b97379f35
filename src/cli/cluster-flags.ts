import type { Logger } from 'pino';
import type { RunnerEvent } from '../control/pipeline-runner.js';
import { ConfigError } from '../errors.js';
import type { RateLimit } from '../harvest/rate-limiter.js';
import { LOST_AFTER_SECONDS, MAX_RUNS, checkWholeNumber } from '../limits.js';
import { valueOrThrow } from './harvest-options.js';

/**
 * The flags `worker` and `serve` share for running pipelines on a PostgreSQL control store, checked
 * with the plain checks of limits.ts: both refuse a bad one before loading the store or the queue.
 */

/** Why a worker needs PostgreSQL: the queue, heartbeats and rate budget live there. */
export const NEEDS_POSTGRES =
  'workers share a PostgreSQL control store: give --control-store postgres://... (or HARVEST_SYNC_CONTROL_STORE); with the SQLite control store, `serve` runs every pipeline itself';

/** `--max-runs`: runs at a time in this process. Throws ConfigError. */
export function parseMaxRuns(value: string): number {
  return valueOrThrow(checkWholeNumber('--max-runs', MAX_RUNS, value));
}

/** `--lost-after`, in milliseconds. Throws ConfigError. */
export function parseLostAfter(value: string): number {
  return (
    valueOrThrow(checkWholeNumber('--lost-after', LOST_AFTER_SECONDS, value, { unit: 'seconds' })) * 1000
  );
}

/** `100/15`: requests per seconds, the budget every worker shares per Harvest account. */
export function parseAccountRateLimit(value: string | undefined): RateLimit | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const m = /^(\d{1,6})\/(\d{1,5}(?:\.\d+)?)$/.exec(value.trim());
  const requests = m ? Number(m[1]) : Number.NaN;
  const seconds = m ? Number(m[2]) : Number.NaN;
  if (!(requests >= 1 && seconds > 0 && seconds <= 3600))
    throw new ConfigError('the account rate limit must look like 100/15 (requests per seconds)');
  return { requests, windowMs: Math.round(seconds * 1000) };
}

/** Logs the start and end of each run (serve and worker alike). */
export function logRunEvent(logger: Logger, event: RunnerEvent): void {
  if (event.type === 'run:started') {
    logger.info(
      { pipeline: event.pipeline.name, run: event.run.id, trigger: event.run.trigger },
      'run started',
    );
  } else if (event.type === 'run:finished') {
    const { run, pipeline } = event;
    const fields = {
      pipeline: pipeline.name,
      run: run.id,
      status: run.status,
      read: run.totals.read,
      inserted: run.totals.inserted,
      updated: run.totals.updated,
      unchanged: run.totals.unchanged,
      deleted: run.totals.deleted,
      error: run.error,
    };
    if (run.status === 'failed') logger.warn(fields, 'run finished');
    else logger.info(fields, 'run finished');
  }
}
