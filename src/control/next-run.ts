import type { Pipeline, Run } from './types.js';

/* When a pipeline runs next: a module of its own, so the CLI shows it without loading the runner. */

const HOUR_MS = 3_600_000;

/** When the pipeline's next scheduled run is due: null when paused; `now` when due already. */
export function nextRunAt(pipeline: Pipeline, lastRun: Run | null, now: number): number | null {
  if (!pipeline.enabled) return null;
  if (!lastRun) return now;
  // From the last start, not the last end: a slow run does not push the schedule back, and a
  // process that was down for hours finds one run due, not one per missed slot.
  return Math.max(now, Date.parse(lastRun.startedAt) + pipeline.frequencyHours * HOUR_MS);
}
