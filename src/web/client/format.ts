/** Display helpers: dates in the browser's locale, durations and counts in a compact form. */

const numberFormat = new Intl.NumberFormat();

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : numberFormat.format(n);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "3 min ago", "in 2 h": relative to now, for list columns. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return iso;
  const abs = Math.abs(ms);
  const text =
    abs < 45_000
      ? 'a few seconds'
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 172_800_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} days`;
  if (abs < 45_000) return ms < 0 ? 'just now' : 'in a few seconds';
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

export function durationMs(ms: number | null): string {
  if (ms === null || Number.isNaN(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long a run took, or has been running so far. */
export function runDurationMs(
  run: { startedAt: string; finishedAt: string | null },
  now = Date.now(),
): number {
  return (run.finishedAt === null ? now : Date.parse(run.finishedAt)) - Date.parse(run.startedAt);
}

/** How long a run took, or has been running so far, as text. */
export function runDuration(run: { startedAt: string; finishedAt: string | null }): string {
  return durationMs(runDurationMs(run));
}

export function every(hours: number): string {
  return hours === 1 ? 'every hour' : `every ${hours} hours`;
}

export const PIPELINE_STATUS_TEXT: Record<string, string> = {
  healthy: 'Healthy',
  failing: 'Failing',
  paused: 'Paused',
  running: 'Running now',
  new: 'Not run yet',
};

export const RUN_STATUS_TEXT: Record<string, string> = {
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  interrupted: 'Interrupted',
  skipped: 'Skipped',
};
