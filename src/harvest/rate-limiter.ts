import type { Clock } from '../clock.js';
import { ConfigError, InterruptedError } from '../errors.js';

/** At most `requests` requests may start in any `windowMs`. */
export interface RateLimit {
  readonly requests: number;
  readonly windowMs: number;
}

/** Harvest's published general limit: 100 requests per 15 s (reports have their own, not used here). */
export const DEFAULT_RATE_LIMIT: RateLimit = { requests: 100, windowMs: 15_000 };

export interface RateLimiterOptions extends RateLimit {
  readonly clock: Clock;
  /**
   * Added to the window: a request's slot is held for windowMs + margin. Covers the difference
   * between when we start a request and when Harvest counts it (latency jitter, event-loop lag),
   * so a correctly configured limit never draws a 429. Default 2% of the window, at most 1 s.
   */
  readonly safetyMarginMs?: number;
  /** After a 429, the lowered limit rises by one step per this many ms without another 429. Default 2 windows. */
  readonly recoveryMs?: number;
}

/** What a granted request carries: used for events, and handed back on a 429. */
export interface Grant {
  readonly startedAt: number;
  /** Requests started in the window before this one: what the server had accepted when it saw this. */
  readonly priorStarts: number;
  readonly waitedMs: number;
  /** Why it waited: the budget of the window, or a pause after a 429. Null when it did not wait. */
  readonly cause: 'budget' | '429' | null;
}

interface Waiter {
  readonly enqueuedAt: number;
  pausedSeen: boolean;
  /** Budget sleeps ended before this request was queued: one ending later means the budget held it back. */
  sleepsAtEnqueue: number;
  readonly resolve: (grant: Grant) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
}

/** Of what got through before a 429, keep this share: the window edges of two clocks never match exactly. */
const LOWERING_FACTOR = 0.9;

/**
 * Sliding-window limiter shared by every request of a client, whichever object it is for.
 * Requests are granted strictly in arrival order. On a 429 it pauses everyone until Retry-After and
 * lowers its own limit to a little under what the server had accepted, then creeps back up slowly,
 * so a configured limit that is too high costs a handful of 429s, not a storm.
 */
export class RateLimiter {
  private readonly clock: Clock;
  private readonly configured: number;
  private readonly windowMs: number;
  private readonly marginMs: number;
  private readonly recoveryMs: number;
  private readonly recoveryStep: number;
  private readonly fastRecoveryStep: number;
  /** Start times of recent requests, oldest first, kept for windowMs + margin. */
  private starts: number[] = [];
  private readonly queue: Waiter[] = [];
  private pumping = false;
  /** Cuts the pump's sleep short once nobody waits, so an interrupted run leaves no timer behind. */
  private wake: AbortController | null = null;
  private pausedUntil = 0;
  private limit: number;
  /** Highest the limit may recover to: the configured one, or lower if the server announced less. */
  private ceiling: number;
  private lastAdjust = 0;
  /** When the limit was last lowered: 429s to requests granted before then were already reacted to. */
  private lastLowered = Number.NEGATIVE_INFINITY;
  /** Lowest limit our own traffic was seen to exceed; recovery is slow only when near it. */
  private knownTooHigh = Number.POSITIVE_INFINITY;

  constructor(options: RateLimiterOptions) {
    if (!Number.isInteger(options.requests) || options.requests < 1) {
      throw new ConfigError(
        `rate limit: requests must be a whole number of at least 1 (got ${options.requests})`,
      );
    }
    if (!Number.isFinite(options.windowMs) || options.windowMs <= 0) {
      throw new ConfigError(
        `rate limit: the window must be a positive number of ms (got ${options.windowMs})`,
      );
    }
    this.clock = options.clock;
    this.configured = options.requests;
    this.windowMs = options.windowMs;
    this.marginMs = options.safetyMarginMs ?? Math.min(1_000, Math.ceil(options.windowMs * 0.02));
    this.recoveryMs = options.recoveryMs ?? 2 * options.windowMs;
    this.recoveryStep = Math.max(1, Math.floor(options.requests / 100));
    this.fastRecoveryStep = Math.max(1, Math.ceil(options.requests / 10));
    this.limit = options.requests;
    this.ceiling = options.requests;
  }

  /** The limit currently applied (configured, or lower after 429s). */
  get effectiveLimit(): number {
    this.recover(this.clock.now());
    return this.limit;
  }

  /** Waits for a slot. Rejects with InterruptedError if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Grant> {
    if (signal?.aborted) return Promise.reject(new InterruptedError());
    return new Promise<Grant>((resolve, reject) => {
      const now = this.clock.now();
      const onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        if (this.queue.length === 0) this.wake?.abort();
        reject(new InterruptedError());
      };
      const waiter: Waiter = {
        enqueuedAt: now,
        pausedSeen: this.pausedUntil > now,
        sleepsAtEnqueue: this.sleepsEnded,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      void this.pump();
    });
  }

  /**
   * Harvest answered 429 to the request of `grant`: pause everyone for `pauseMs` and lower the limit,
   * once per episode (requests granted before the last lowering do not lower it again).
   * If our own requests filled much of the window, the server's limit is about what it let through:
   * go a little under that. If they did not, someone else is using the budget: halve.
   */
  onRateLimited(grant: Grant, pauseMs: number): void {
    const now = this.clock.now();
    this.recover(now);
    this.pause(pauseMs);
    if (grant.startedAt < this.lastLowered) return;
    const seen = grant.priorStarts + 1;
    if (seen >= this.limit / 2) {
      this.knownTooHigh = Math.min(this.knownTooHigh, seen);
      this.limit = Math.max(1, Math.min(this.limit, Math.floor(grant.priorStarts * LOWERING_FACTOR)));
    } else {
      this.limit = Math.max(1, Math.floor(this.limit / 2));
    }
    this.lastLowered = now;
    this.lastAdjust = now;
  }

  /** The server announced its limit (a rate-limit header): never go above it; a higher one is climbed to slowly. */
  onServerLimit(requests: number): void {
    if (!Number.isInteger(requests) || requests < 1) return;
    this.ceiling = Math.min(this.configured, requests);
    if (this.limit > this.ceiling) {
      this.limit = this.ceiling;
      this.lastAdjust = this.clock.now();
    }
  }

  /** The server said its budget is spent for `ms` (e.g. remaining 0 with a reset time). */
  pause(ms: number): void {
    const now = this.clock.now();
    this.pausedUntil = Math.max(this.pausedUntil, now + Math.max(0, ms));
    for (const waiter of this.queue) waiter.pausedSeen = true;
  }

  /**
   * One step up per recoveryMs without a 429: a tenth of the configured limit while well under any
   * level our own traffic was refused at (a foreign burst should not cost the run for long), a
   * hundredth near it (probing a known limit is what draws 429s).
   */
  private recover(now: number): void {
    while (this.limit < this.ceiling && now - this.lastAdjust >= this.recoveryMs) {
      const step = this.limit < 0.8 * this.knownTooHigh ? this.fastRecoveryStep : this.recoveryStep;
      this.limit = Math.min(this.ceiling, this.limit + step);
      this.lastAdjust += this.recoveryMs;
    }
  }

  /** Ms until the next request may start (0: now). */
  private delay(now: number): number {
    this.recover(now);
    const held = this.windowMs + this.marginMs;
    let drop = 0;
    while (drop < this.starts.length && this.starts[drop] <= now - held) drop++;
    if (drop > 0) this.starts = this.starts.slice(drop);
    const pauseDelay = this.pausedUntil - now;
    const windowDelay =
      this.starts.length >= this.limit ? this.starts[this.starts.length - this.limit] + held - now : 0;
    return Math.max(0, pauseDelay, windowDelay);
  }

  private priorStarts(now: number): number {
    let count = 0;
    for (let i = this.starts.length - 1; i >= 0 && this.starts[i] > now - this.windowMs; i--) count++;
    return count;
  }

  /** Single loop granting the head of the queue whenever the window allows; one runs at a time. */
  private sleepsEnded = 0;

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const now = this.clock.now();
        const wait = this.delay(now);
        if (wait > 0) {
          const wake = new AbortController();
          this.wake = wake;
          await this.clock.sleep(wait, wake.signal).catch(() => undefined);
          this.sleepsEnded++;
          this.wake = null;
          continue;
        }
        const waiter = this.queue.shift() as Waiter;
        waiter.cleanup();
        const grant: Grant = {
          startedAt: now,
          priorStarts: this.priorStarts(now),
          waitedMs: now - waiter.enqueuedAt,
          cause: waiter.pausedSeen ? '429' : this.sleepsEnded > waiter.sleepsAtEnqueue ? 'budget' : null,
        };
        this.starts.push(now);
        waiter.resolve(grant);
      }
    } finally {
      this.pumping = false;
    }
  }
}

/**
 * Retry-After as ms from now: either delay-seconds or an HTTP date. An HTTP date is measured
 * against the server's own Date header when there is one, so clock skew does not stretch the wait.
 * Null when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null,
  now: number,
  serverDate?: string | null,
): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  const reference = serverDate ? Date.parse(serverDate) : Number.NaN;
  return Math.max(0, at - (Number.isNaN(reference) ? now : reference));
}
