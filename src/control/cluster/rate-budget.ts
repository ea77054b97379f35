import type pg from 'pg';
import { systemClock } from '../../clock.js';
import { InterruptedError } from '../../errors.js';
import type { RateLimit } from '../../harvest/rate-limiter.js';
import { DEFAULT_RATE_LIMIT } from '../../harvest/rate-limiter.js';
import type { SharedBudget, SharedGrant } from '../../harvest/shared-budget.js';
import type { Pipeline } from '../types.js';
import { DB_NOW_MS, int, transaction } from './db.js';

/*
 * One request budget per Harvest account, shared by every worker: a sliding window over the
 * requests granted to anyone, kept in `rate_grants` and measured on the database's clock. As in the
 * client's own limiter (harvest/rate-limiter.ts), a request counts from its grant while in flight,
 * then for a window after its answer, so latency never lets two processes overrun the server's
 * window. A grant is one short transaction (lock the account's row, count, insert): the cost per
 * request is bounded whatever the number of workers. A 429 seen by any worker pauses all of them and
 * lowers the shared limit; it climbs back a tenth of the configured one every two quiet windows.
 */

/** A request in flight longer than this is taken for abandoned (its process died). */
const IN_FLIGHT_MAX_MS = 300_000;
/** Clock granularity between two stamps of the same clock; latency needs none (see above). */
const MARGIN_MS = 50;
const LOWERING_FACTOR = 0.9;
/** Polling bounds while the budget is full. */
const MIN_WAIT_MS = 20;
const MAX_WAIT_MS = 1000;

type Try = { readonly grant: SharedGrant } | { readonly waitMs: number };

export class PostgresRateBudgets {
  readonly #known = new Set<string>();
  #grants = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
  ) {}

  /** The budget of the pipeline's account (at its API origin). */
  forPipeline(pipeline: Pick<Pipeline, 'accountId' | 'baseUrl'>): SharedBudget {
    let origin = pipeline.baseUrl;
    try {
      origin = new URL(pipeline.baseUrl).origin;
    } catch {
      // kept as written: the client refuses it before any request
    }
    return this.forKey(`${origin}#${pipeline.accountId}`);
  }

  forKey(key: string): SharedBudget {
    return {
      acquire: (signal) => this.#acquire(key, signal),
      settle: (grant) => {
        this.pool
          .query(`UPDATE rate_grants SET answered_at = ${DB_NOW_MS} WHERE id = $1`, [grant.id])
          .catch(() => undefined);
      },
      onRateLimited: (grant, pauseMs) => {
        this.#lower(key, grant, pauseMs).catch(() => undefined);
      },
    };
  }

  /** The account's shared limit now (after 429s, lower than configured). */
  async currentLimit(key: string): Promise<number | null> {
    const { rows } = await this.pool.query('SELECT limit_requests FROM rate_budgets WHERE account_key = $1', [
      key,
    ]);
    return rows.length === 0 ? null : int(rows[0].limit_requests);
  }

  async #acquire(key: string, signal?: AbortSignal): Promise<SharedGrant> {
    await this.#ensure(key);
    for (;;) {
      if (signal?.aborted) throw new InterruptedError();
      const attempt = await this.#try(key);
      if ('grant' in attempt) return attempt.grant;
      await systemClock
        .sleep(Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, attempt.waitMs)), signal)
        .catch(() => {
          throw new InterruptedError();
        });
    }
  }

  async #ensure(key: string): Promise<void> {
    if (this.#known.has(key)) return;
    await this.pool.query(
      `INSERT INTO rate_budgets (account_key, configured, window_ms, limit_requests, adjusted_at, paused_until)
       VALUES ($1, $2, $3, $2, ${DB_NOW_MS}, 0)
       ON CONFLICT (account_key) DO UPDATE SET configured = excluded.configured, window_ms = excluded.window_ms,
         limit_requests = LEAST(rate_budgets.limit_requests, excluded.configured)`,
      [key, this.limit.requests, this.limit.windowMs],
    );
    this.#known.add(key);
  }

  #try(key: string): Promise<Try> {
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `SELECT configured, window_ms, limit_requests, adjusted_at, paused_until, ${DB_NOW_MS} AS now
         FROM rate_budgets WHERE account_key = $1 FOR UPDATE`,
        [key],
      );
      const b = rows[0] as Record<string, unknown>;
      const now = int(b.now);
      const windowMs = int(b.window_ms);
      const limit = await this.#recover(client, key, b, now);
      if (now < int(b.paused_until)) return { waitMs: int(b.paused_until) - now };
      const held = await client.query(
        `SELECT count(*) AS n, min(answered_at) AS oldest FROM rate_grants WHERE account_key = $1
           AND ((answered_at IS NULL AND granted_at > $2) OR answered_at > $3)`,
        [key, now - IN_FLIGHT_MAX_MS, now - windowMs - MARGIN_MS],
      );
      const inWindow = int(held.rows[0].n);
      if (inWindow >= limit) {
        const oldest = held.rows[0].oldest;
        return { waitMs: oldest === null ? MIN_WAIT_MS * 5 : int(oldest) + windowMs + MARGIN_MS - now };
      }
      const inserted = await client.query(
        'INSERT INTO rate_grants (account_key, granted_at) VALUES ($1, $2) RETURNING id',
        [key, now],
      );
      if (++this.#grants % 100 === 0) await this.#prune(client, key, now, windowMs);
      return { grant: { id: int(inserted.rows[0].id), inWindow } };
    });
  }

  /** One step up per two quiet windows, never above the configured limit. */
  async #recover(
    client: pg.PoolClient,
    key: string,
    b: Record<string, unknown>,
    now: number,
  ): Promise<number> {
    const configured = int(b.configured);
    let limit = int(b.limit_requests);
    const interval = 2 * int(b.window_ms);
    if (limit >= configured || now - int(b.adjusted_at) < interval) return limit;
    const steps = Math.floor((now - int(b.adjusted_at)) / interval);
    limit = Math.min(configured, limit + steps * Math.max(1, Math.ceil(configured / 10)));
    await client.query(
      'UPDATE rate_budgets SET limit_requests = $2, adjusted_at = $3 WHERE account_key = $1',
      [key, limit, now],
    );
    return limit;
  }

  async #prune(client: pg.PoolClient, key: string, now: number, windowMs: number): Promise<void> {
    await client.query(
      `DELETE FROM rate_grants WHERE account_key = $1 AND granted_at < $2
         AND (answered_at IS NOT NULL AND answered_at < $3 OR granted_at < $4)`,
      [key, now - windowMs, now - 2 * windowMs, now - IN_FLIGHT_MAX_MS],
    );
  }

  /**
   * Our own traffic filled much of the window: the server's limit is at most what it had counted,
   * so go a little under it. If it did not, someone else uses the budget: halve.
   */
  async #lower(key: string, grant: SharedGrant, pauseMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE rate_budgets SET
         paused_until = GREATEST(paused_until, ${DB_NOW_MS} + $2),
         limit_requests = GREATEST(1, LEAST(limit_requests,
           CASE WHEN $3 + 1 >= limit_requests / 2.0 THEN floor($3 * ${LOWERING_FACTOR}) ELSE floor(limit_requests / 2) END)),
         adjusted_at = ${DB_NOW_MS}
       WHERE account_key = $1`,
      [key, Math.max(0, Math.round(pauseMs)), grant.inWindow],
    );
  }
}
