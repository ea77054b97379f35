import type { Clock } from '../clock.js';
import { round2 } from './random.js';
import type { RecordView } from './store.js';

const HOUR_MS = 3_600_000;

/**
 * Running timers, as Harvest shows them: `hours` is the hours before the timer was last started
 * (`hours_without_timer`) plus the time it has run since `timer_started_at`, by the simulator's
 * clock; `rounded_hours` follows. The record's `updated_at` does not move while the timer runs.
 */
export function timerView(clock: Clock): RecordView {
  return (record) => {
    if (record.is_running !== true || typeof record.timer_started_at !== 'string') return record;
    const base = typeof record.hours_without_timer === 'number' ? record.hours_without_timer : 0;
    const ran = Math.max(0, clock.now() - Date.parse(record.timer_started_at)) / HOUR_MS;
    const hours = round2(base + ran);
    return { ...record, hours, rounded_hours: Math.ceil(hours * 4) / 4 };
  };
}
