import type { Clock } from '../clock.js';
import { InterruptedError } from '../errors.js';

/** How often and how long a failed call is tried again. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Ceiling of the first backoff; it doubles per attempt. */
  readonly baseDelayMs: number;
  /** Ceiling of any single backoff. */
  readonly maxDelayMs: number;
}

/**
 * 6 attempts with full-jitter backoff capped at 1, 2, 4, 8, 16 s: at most 31 s of backoff per call,
 * plus the per-request timeouts, so a dead API fails a run within a few minutes, never hours.
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 1_000, maxDelayMs: 30_000 };

/** Statuses worth trying again: throttling and server-side failures. Never 400/401/403/404/422. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/**
 * Full jitter (a uniform wait between 0 and the exponential ceiling): spreads concurrent clients
 * apart so they do not hammer a recovering server in lock-step.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The signal for one attempt: fires on the caller's abort or after `timeoutMs`, whichever is first.
 * `timedOut()` tells the two apart after the fact.
 */
export function attemptSignal(
  timeoutMs: number,
  caller?: AbortSignal,
): { signal: AbortSignal; timedOut: () => boolean } {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = caller ? AbortSignal.any([timeout, caller]) : timeout;
  return { signal, timedOut: () => timeout.aborted && !(caller?.aborted ?? false) };
}

/** What a failed attempt tells the retry loop. */
export interface AttemptFailure {
  readonly retryable: boolean;
  /**
   * Backoff to use instead of the exponential one: 0 when something else (the rate limiter's
   * Retry-After pause) already makes the next attempt wait.
   */
  readonly delayMs?: number;
}

export interface RetryOptions<T> {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal?: AbortSignal;
  readonly attempt: (attempt: number) => Promise<T>;
  /** Classifies an error thrown by `attempt`. */
  readonly classify: (error: unknown) => AttemptFailure;
  /** The error to throw once attempts are spent; gets the last error and the attempt count. */
  readonly exhausted: (error: unknown, attempts: number) => unknown;
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Message of the InterruptedError thrown when the caller aborts. */
  readonly interruptedMessage?: string;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or attempts are spent. A caller's abort ends it
 * at once with an InterruptedError, whatever it was doing (request, backoff).
 */
export async function withRetry<T>(options: RetryOptions<T>): Promise<T> {
  const { policy, signal } = options;
  const interrupted = () => new InterruptedError(options.interruptedMessage);
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw interrupted();
    try {
      return await options.attempt(attempt);
    } catch (error) {
      if (signal?.aborted || error instanceof InterruptedError) throw interrupted();
      const failure = options.classify(error);
      if (!failure.retryable) throw error;
      if (attempt >= policy.maxAttempts) throw options.exhausted(error, attempt);
      const delayMs = failure.delayMs ?? backoffDelay(attempt, policy, options.random);
      options.onRetry?.({ attempt, delayMs, error });
      if (delayMs > 0) {
        try {
          await options.clock.sleep(delayMs, signal);
        } catch {
          throw interrupted();
        }
      }
    }
  }
}
