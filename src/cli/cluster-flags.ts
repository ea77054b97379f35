import type { Logger } from 'pino';
import type { RunnerEvent } from '../control/pipeline-runner.js';
import { ConfigError } from '../errors.js';
import type { RateLimit } from '../harvest/rate-limiter.js';

/** The flags `worker` and `serve` share for running pipelines on a PostgreSQL control store. */

export function parseMaxRuns(value: string): number {
  const n = /^\d{1,3}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 64)) throw new ConfigError('--max-runs must be a whole number from 1 to 64');
  return n;
}

export function parseLostAfter(value: string): number {
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 5 && n <= 3600))
    throw new ConfigError('--lost-after must be a whole number of seconds from 5 to 3600');
  return n * 1000;
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
