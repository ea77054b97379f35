import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get, walk } from './helpers.js';
import { TestClock } from '../support/clock.js';

/*
 * Running timers as Harvest shows them: `is_running: true`, `hours` = `hours_without_timer` plus the
 * time since `timer_started_at` on the simulator's clock, growing between reads while `updated_at`
 * stays; the documented `is_running` filter selects them.
 */

const clock = new TestClock({ start: '2026-02-01T08:00:00Z', sleeps: 'ignore' });
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.2, seed: 6, rateLimit: null, clock });
});
afterAll(() => sim.stop());

const entries = (page: JsonObject) => page.time_entries as JsonObject[];

describe('running timers', () => {
  it('are listed by is_running=true, at most one per user, and the rest by is_running=false', async () => {
    const running = await walk(sim, '/v2/time_entries?is_running=true', 'time_entries');
    expect(running.records.length).toBeGreaterThan(0);
    expect(
      running.records.every((e) => e.is_running === true && typeof e.timer_started_at === 'string'),
    ).toBe(true);
    const users = running.records.map((e) => (e.user as JsonObject).id);
    expect(new Set(users).size).toBe(users.length);
    const stopped = (await get(sim, '/v2/time_entries?is_running=false&per_page=1')).json.total_entries;
    const all = (await get(sim, '/v2/time_entries?per_page=1')).json.total_entries;
    expect((stopped as number) + running.records.length).toBe(all);
  });

  it('grow in hours with the clock while updated_at stays', async () => {
    const before = entries((await get(sim, '/v2/time_entries?is_running=true')).json)[0];
    const started = Date.parse(before.timer_started_at as string);
    const expected = (now: number) =>
      Math.round(((before.hours_without_timer as number) + (now - started) / 3_600_000) * 100) / 100;
    expect(before.hours).toBe(expected(clock.now()));
    clock.advance(90 * 60_000);
    const after = (await get(sim, `/v2/time_entries/${before.id as number}`)).json;
    expect(after.hours).toBe(expected(clock.now()));
    expect((after.hours as number) - (before.hours as number)).toBeCloseTo(1.5, 1);
    expect(after.rounded_hours).toBe(Math.ceil((after.hours as number) * 4) / 4);
    expect(after.updated_at).toBe(before.updated_at);
    expect(after.hours_without_timer).toBe(before.hours_without_timer);
    // an incremental read cannot see the growth: the record is not "updated"
    const since = new Date(Date.parse(before.updated_at as string) + 1000).toISOString();
    const changed = await walk(sim, `/v2/time_entries?updated_since=${since}`, 'time_entries');
    expect(changed.records.map((e) => e.id)).not.toContain(before.id);
  });

  it('stop growing and move updated_at once stopped', async () => {
    const timer = entries((await get(sim, '/v2/time_entries?is_running=true')).json)[0];
    clock.set('2026-02-02T12:00:00Z');
    sim.update('time_entries', timer.id as number, {
      is_running: false,
      timer_started_at: null,
      hours: 3.25,
      hours_without_timer: 3.25,
    });
    clock.advance(3_600_000);
    const stopped = (await get(sim, `/v2/time_entries/${timer.id as number}`)).json;
    expect(stopped).toMatchObject({ is_running: false, hours: 3.25, updated_at: '2026-02-02T12:00:00Z' });
  });

  it('refuses an is_running that is not true or false with a 422', async () => {
    const res = await get(sim, '/v2/time_entries?is_running=yes');
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ message: 'is_running must be true or false' });
  });

  it('stay at their generated hours with timersGrow: false', async () => {
    const still = await startSimulator({ scale: 0.2, seed: 6, rateLimit: null, clock, timersGrow: false });
    try {
      const first = entries((await get(still, '/v2/time_entries?is_running=true')).json)[0];
      clock.advance(3_600_000);
      const again = (await get(still, `/v2/time_entries/${first.id as number}`)).json;
      expect(again.hours).toBe(first.hours);
    } finally {
      await still.stop();
    }
  });
});
