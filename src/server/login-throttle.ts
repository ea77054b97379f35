import type { Clock } from '../clock.js';

/*
 * Login limiting. Each attempt is counted the moment it is let through, before the slow password
 * hash, so guesses sent at once cannot all slip past the check; a right password takes its count
 * back. Past a free allowance, each further attempt makes the next one wait twice as long (up to a
 * cap) instead of locking anyone out: the admin gets in once the wait is over, and an attempt refused
 * while waiting does not lengthen it. Three keys:
 * - the client address (per address: one guesser);
 * - the account (all addresses together: a guesser rotating addresses gets no fresh tries, only
 *   the account's own doubling wait, capped low so nobody can keep the admin out for long);
 * - a device cookie, given to a browser at each successful login: that browser is counted on its own
 *   and never by the two others, so no one failing elsewhere holds the admin back in it (OWASP's
 *   "device cookies").
 */

export interface BackoffPolicy {
  /** Attempts let through before any wait. */
  readonly free: number;
  /** The first wait; each attempt past the allowance doubles it. */
  readonly baseMs: number;
  readonly maxMs: number;
  /** A key unused this long starts afresh. */
  readonly forgetMs: number;
}

/** Per client address, and per device cookie. */
export const CLIENT_BACKOFF: BackoffPolicy = {
  free: 5,
  baseMs: 1000,
  maxMs: 15 * 60_000,
  forgetMs: 3_600_000,
};
/** Per account, across every address: caps guesses at about one a minute once the allowance is spent. */
export const ACCOUNT_BACKOFF: BackoffPolicy = { free: 10, baseMs: 1000, maxMs: 60_000, forgetMs: 3_600_000 };

interface Entry {
  attempts: number;
  /** When the next attempt may go through. */
  nextAt: number;
  lastAt: number;
}

/** Attempts per key with an exponential wait; memory bounded by `maxKeys` (oldest forgotten first). */
export class Backoff {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    readonly policy: BackoffPolicy,
    private readonly maxKeys = 10_000,
  ) {}

  #delay(attempts: number): number {
    const { free, baseMs, maxMs } = this.policy;
    return attempts < free ? 0 : Math.min(maxMs, baseMs * 2 ** Math.min(attempts - free, 40));
  }

  #live(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && now - entry.lastAt >= this.policy.forgetMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  waitMs(key: string): number {
    const now = this.clock.now();
    const entry = this.#live(key, now);
    return entry ? Math.max(0, entry.nextAt - now) : 0;
  }

  /** Counts an attempt being let through. Returns what takes it back (the password was right). */
  count(key: string): () => void {
    const now = this.clock.now();
    let entry = this.#live(key, now);
    if (!entry) {
      if (this.#entries.size >= this.maxKeys) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      entry = { attempts: 0, nextAt: now, lastAt: now };
      this.#entries.set(key, entry);
    }
    const before = { attempts: entry.attempts, nextAt: entry.nextAt };
    entry.attempts += 1;
    entry.lastAt = now;
    entry.nextAt = now + this.#delay(entry.attempts);
    const counted = entry;
    return () => {
      if (counted.attempts === before.attempts + 1) Object.assign(counted, before);
      else {
        counted.attempts = Math.max(0, counted.attempts - 1);
        counted.nextAt = counted.lastAt + this.#delay(counted.attempts);
      }
    };
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }
}

export type ThrottleDecision =
  | { readonly allowed: true; readonly settle: (right: boolean) => void }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** The three keys together: what a login or a password check asks before hashing. */
export class LoginThrottle {
  readonly clients: Backoff;
  readonly devices: Backoff;
  readonly account: Backoff;

  constructor(clock: Clock, policies: { client?: BackoffPolicy; account?: BackoffPolicy } = {}) {
    this.clients = new Backoff(clock, policies.client ?? CLIENT_BACKOFF);
    this.devices = new Backoff(clock, policies.client ?? CLIENT_BACKOFF);
    this.account = new Backoff(clock, policies.account ?? ACCOUNT_BACKOFF);
  }

  /**
   * Lets an attempt through, counted, or says how long to wait. `device` is the verified id of the
   * browser's device cookie, when it has a valid one. `settle(right)` must follow the check.
   */
  admit(client: string, device: string | null): ThrottleDecision {
    const keys: Array<[Backoff, string]> = device
      ? [[this.devices, device]]
      : [
          [this.clients, client],
          [this.account, 'admin'],
        ];
    const wait = Math.max(...keys.map(([backoff, key]) => backoff.waitMs(key)));
    if (wait > 0) return { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) };
    const undo = keys.map(([backoff, key]) => backoff.count(key));
    return {
      allowed: true,
      settle: (right) => {
        if (!right) return;
        // the guesser is not the one who knows the password: its own key starts afresh, while the
        // account keeps every other attempt it counted
        for (const [backoff, key] of keys) if (backoff !== this.account) backoff.reset(key);
        undo.forEach((takeBack, i) => keys[i][0] === this.account && takeBack());
      },
    };
  }
}
