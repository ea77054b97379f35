import type { Clock } from '../../src/clock.js';

/**
 * What `sleep` does on a TestClock:
 * - `wait`: it waits until the test moves time past its end (`advance`, `set`, or `run`, which
 *   jumps to the next sleep's end whenever nothing else can happen): virtual time.
 * - `instant`: it returns at once and moves the clock forward by what it would have lasted
 *   (retries and rate-limit waits take no wall time, yet the arithmetic on `now()` holds).
 * - `ignore`: it returns at once and time stands still.
 */
export type SleepMode = 'wait' | 'instant' | 'ignore';

export interface TestClockOptions {
  /** Where time starts: epoch ms or an ISO string; default 2026-01-01T00:00:00Z. */
  readonly start?: number | string;
  /** Follow the wall clock (plus whatever was advanced or slept): for tests with real timeouts. */
  readonly realTime?: boolean;
  readonly sleeps?: SleepMode;
}

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

const DEFAULT_START = Date.parse('2026-01-01T00:00:00Z');

/** The tests' one clock: time they move by hand, or the wall clock with sleeps skipped. */
export class TestClock implements Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  /** The sum of `sleeps`: what an `instant` clock skipped. */
  waitedMs = 0;
  private readonly mode: SleepMode;
  private readonly realTime: boolean;
  private time: number;
  private seq = 0;
  private sleepers: Sleeper[] = [];

  constructor(options: TestClockOptions = {}) {
    const start = options.start ?? DEFAULT_START;
    this.realTime = options.realTime ?? false;
    this.mode = options.sleeps ?? 'wait';
    // real time keeps an offset from Date.now(); virtual time keeps the instant itself
    this.time = this.realTime ? 0 : typeof start === 'string' ? Date.parse(start) : start;
  }

  now(): number {
    return this.realTime ? Date.now() + this.time : this.time;
  }

  /** Sleeps not yet over (`wait` mode). */
  get pending(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const wait = Math.max(0, ms);
    this.sleeps.push(ms);
    this.waitedMs += wait;
    if (this.mode === 'ignore') return Promise.resolve();
    if (this.mode === 'instant') {
      this.time += wait;
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.now() + wait,
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms`, ending every sleep that is then over. */
  advance(ms: number): void {
    this.time += ms;
    const now = this.now();
    const due = this.sleepers.filter((s) => s.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.sleepers = this.sleepers.filter((s) => s.at > now);
    for (const sleeper of due) sleeper.resolve();
  }

  /** Moves time to `to` (epoch ms or ISO string); never backwards past a pending sleep's start. */
  set(to: number | string): void {
    this.advance((typeof to === 'string' ? Date.parse(to) : to) - this.now());
  }

  /** Runs until `done` settles, jumping time to the next sleep's end whenever nothing else can happen. */
  async run<T>(done: Promise<T>): Promise<T> {
    let settled = false;
    done.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) return done;
      if (this.sleepers.length === 0) throw new Error('deadlock: nothing scheduled and not done');
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers.shift() as Sleeper;
      if (next.at > this.now()) this.time += next.at - this.now();
      next.resolve();
    }
  }
}
