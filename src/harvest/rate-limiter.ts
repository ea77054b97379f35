import type { Clock } from '../clock.js';
import { ConfigError, InterruptedError } from '../errors.js';

/** At most `requests` requests may reach the server in any `windowMs`. */
export interface RateLimit {
  readonly requests: number;
  readonly windowMs: number;
}

/** Harvest's published general limit: 100 requests per 15 s. */
export const DEFAULT_RATE_LIMIT: RateLimit = { requests: 100, windowMs: 15_000 };
/** Harvest's published limit of the Reports API (`/v2/reports/…`): 100 requests per 15 minutes. */
export const DEFAULT_REPORTS_RATE_LIMIT: RateLimit = { requests: 100, windowMs: 15 * 60_000 };

export interface RateLimiterOptions extends RateLimit {
  readonly clock: Clock;
  /**
   * Added to how long a settled request's slot is held (its response + windowMs + margin). Not for
   * latency or event-loop lag: holding the slot until the response already covers any arrival time.
   * Only for clocks: we and the server stamp in whole ms, and two machines' clocks tick at slightly
   * different rates (NTP slews by at most 0.05%). Default 0.1% of the window (15 ms at Harvest's
   * 15 s), at least 1 ms; it costs the same share of throughput.
   */
  readonly safetyMarginMs?: number;
  /** After a 429, the lowered limit rises by one step per this many ms without another 429. Default 2 windows. */
  readonly recoveryMs?: number;
  /**
   * Climbing back to the level at which our own traffic drew a 429 waits this long instead (a probe:
   * the server's limit may have been lower only for a while). Default 10 × recoveryMs.
   */
  readonly probeMs?: number;
}

/**
 * A granted request. Hand it back with `settle` as soon as its response (or failure) is in, and
 * with `onRateLimited` on a 429.
 */
export interface Grant {
  readonly startedAt: number;
  /**
   * Our requests the server may have counted in the window before this one: those in flight and
   * those answered less than a window ago. Never fewer than it did count of those granted earlier.
   */
  readonly inWindow: number;
  readonly waitedMs: number;
  /** Why it waited: the budget of the window, or a pause after a 429. Null when it did not wait. */
  readonly cause: 'budget' | '429' | null;
}

interface Waiter {
  readonly enqueuedAt: number;
  pausedSeen: boolean;
  /** Budget waits ended before this request was queued: one ending later means the budget held it back. */
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
 *
 * Why a slot is held until a window after the response, not after the grant: the server counts a
 * request when it arrives (a), which we never see; we only know send ≤ a ≤ response (r). A request
 * granted at t arrives at a' ≥ t, and an earlier one is surely out of the server's window by then
 * iff a ≤ a' − window, which holds for every a iff r ≤ t − window. So granting at t is safe iff
 *   (requests in flight) + (requests answered after t − window) < limit,
 * whatever the latency, jitter or event-loop lag. The price: a slot is held for window + latency,
 * so throughput is limit / (window + latency), latency/window below the limit (1-2% for Harvest's
 * 15 s window).
 */
export class RateLimiter {
  private readonly clock: Clock;
  private readonly configured: number;
  private readonly windowMs: number;
  private readonly marginMs: number;
  private readonly recoveryMs: number;
  private readonly probeMs: number;
  private readonly recoveryStep: number;
  private readonly fastRecoveryStep: number;
  /** Granted, not yet settled: the server may count them at any moment. */
  private readonly inFlight = new Set<Grant>();
  /** When settled requests were answered, oldest first, kept for windowMs + margin. */
  private answered: number[] = [];
  private readonly queue: Waiter[] = [];
  private pumping = false;
  /** Cuts the pump's wait short: once nobody waits (no timer left behind), or a settle when it waits for one. */
  private wake: AbortController | null = null;
  /** The pump waits for a request in flight to settle, with no deadline. */
  private waitingForSettle = false;
  /** Budget waits ended so far. */
  private sleepsEnded = 0;
  private pausedUntil = 0;
  private limit: number;
  /** Highest the limit may recover to: the configured one, or lower if the server announced less. */
  private ceiling: number;
  private lastAdjust = 0;
  /** When the limit was last lowered: 429s to requests granted before then were already reacted to. */
  private lastLowered = Number.NEGATIVE_INFINITY;
  /** Whether the last lowering blamed our own traffic (rather than someone else's). */
  private lastEpisodeOurs = false;
  /** Lowest limit our own traffic was seen to exceed; recovery stops under it until a probe. */
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
    this.marginMs = options.safetyMarginMs ?? Math.max(1, Math.ceil(options.windowMs / 1000));
    this.recoveryMs = options.recoveryMs ?? 2 * options.windowMs;
    this.probeMs = options.probeMs ?? 10 * this.recoveryMs;
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

  /** Waits for a slot. Rejects with InterruptedError if `signal` aborts first. Every grant must be settled. */
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
   * The response to `grant` has arrived (its headers are enough: the server counted the request
   * before answering), or its attempt failed or was abandoned. From now on its slot is held for one
   * more window. Calling it again, or with a grant not from here, does nothing.
   */
  settle(grant: Grant): void {
    if (!this.inFlight.delete(grant)) return;
    const last = this.answered.length > 0 ? this.answered[this.answered.length - 1] : 0;
    // kept in order even if the wall clock steps back
    this.answered.push(Math.max(last, this.clock.now()));
    if (this.waitingForSettle) this.wake?.abort();
  }

  /**
   * Harvest answered 429 to the request of `grant`: pause everyone for `pauseMs` and lower the limit.
   * If our own requests filled much of the window, the server's limit is at most what it may have
   * counted of them: go a little under that. If they did not, someone else is using the budget:
   * halve, once per episode (requests granted before the last lowering do not halve it again).
   * Other refusals of one burst of ours come back in any order; each bounds the server's limit
   * too, so the lowest of them is kept, which lowers nothing twice for one cause.
   */
  onRateLimited(grant: Grant, pauseMs: number): void {
    const now = this.clock.now();
    this.recover(now);
    this.pause(pauseMs);
    const seen = grant.inWindow + 1;
    const sameEpisode = grant.startedAt < this.lastLowered;
    if (sameEpisode ? this.lastEpisodeOurs : seen >= this.limit / 2) {
      this.knownTooHigh = Math.min(this.knownTooHigh, seen);
      this.limit = Math.max(1, Math.min(this.limit, Math.floor(grant.inWindow * LOWERING_FACTOR)));
      this.lastEpisodeOurs = true;
    } else if (sameEpisode) {
      return;
    } else {
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      this.lastEpisodeOurs = false;
    }
    if (!sameEpisode) this.lastLowered = now;
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

  /** Ms from the last adjustment until the limit may rise a step: a probe when that step reaches a known refusal. */
  private stepInterval(): number {
    return this.limit + 1 >= this.knownTooHigh ? this.probeMs : this.recoveryMs;
  }

  /**
   * One step up per recoveryMs without a 429: a tenth of the configured limit while well under any
   * level our own traffic was refused at (a foreign burst should not cost the run for long), a
   * hundredth near it, and never up to it: that level is certain to draw a 429 again. Only after
   * probeMs is it tried once more (and forgotten), in case the server's limit has risen back.
   */
  private recover(now: number): void {
    while (this.limit < this.ceiling) {
      const probing = this.limit + 1 >= this.knownTooHigh;
      const interval = this.stepInterval();
      if (now - this.lastAdjust < interval) return;
      const step = this.limit < 0.8 * this.knownTooHigh ? this.fastRecoveryStep : this.recoveryStep;
      let next = Math.min(this.ceiling, this.limit + step);
      if (probing) this.knownTooHigh = Number.POSITIVE_INFINITY;
      else if (next >= this.knownTooHigh) next = this.knownTooHigh - 1;
      this.limit = next;
      this.lastAdjust += interval;
    }
  }

  /** Ms until the next request may be granted (0: now; Infinity: not before a request in flight settles). */
  private delay(now: number): number {
    this.recover(now);
    const held = this.windowMs + this.marginMs;
    let drop = 0;
    while (drop < this.answered.length && this.answered[drop] + held <= now) drop++;
    if (drop > 0) this.answered = this.answered.slice(drop);
    const pauseDelay = this.pausedUntil - now;
    // what is left of the limit once every request in flight is counted in the window
    const room = this.limit - this.inFlight.size;
    const windowDelay =
      room <= 0
        ? Number.POSITIVE_INFINITY
        : this.answered.length >= room
          ? this.answered[this.answered.length - room] + held - now
          : 0;
    if (windowDelay <= 0) return Math.max(0, pauseDelay);
    // a recovery step may raise the limit before the window lets the request through
    const nextStep = this.limit < this.ceiling ? this.lastAdjust + this.stepInterval() - now : Infinity;
    return Math.max(0, pauseDelay, Math.min(windowDelay, nextStep));
  }

  /** Single loop granting the head of the queue whenever the window allows; one runs at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const now = this.clock.now();
        const wait = this.delay(now);
        if (wait > 0) {
          await this.idle(wait);
          this.sleepsEnded++;
          continue;
        }
        const waiter = this.queue.shift() as Waiter;
        waiter.cleanup();
        const grant: Grant = {
          startedAt: now,
          inWindow: this.inFlight.size + this.answered.length,
          waitedMs: now - waiter.enqueuedAt,
          cause: waiter.pausedSeen ? '429' : this.sleepsEnded > waiter.sleepsAtEnqueue ? 'budget' : null,
        };
        this.inFlight.add(grant);
        waiter.resolve(grant);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Waits `ms` (Infinity: until a settle), or less if woken. */
  private async idle(ms: number): Promise<void> {
    const wake = new AbortController();
    this.wake = wake;
    this.waitingForSettle = ms === Number.POSITIVE_INFINITY;
    try {
      if (this.waitingForSettle) {
        await new Promise<void>((resolve) =>
          wake.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      } else {
        await this.clock.sleep(ms, wake.signal).catch(() => undefined);
      }
    } finally {
      this.wake = null;
      this.waitingForSettle = false;
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
