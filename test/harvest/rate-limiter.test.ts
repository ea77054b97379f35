import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { RateLimiter, parseRetryAfter, type Grant } from '../../src/harvest/rate-limiter.js';
import { FakeClock, seeded } from './helpers.js';

interface SimulationInput {
  /** What the client is told. */
  configured: number;
  /** What the simulated server enforces, on a rolling window of arrivals. */
  serverLimit: number;
  windowMs: number;
  calls: number;
  workers: number;
  seed: number;
  /** Whether the server's 429 says when to come back (Harvest's real one did not). */
  sendRetryAfter: boolean;
}

/**
 * `workers` concurrent loops share one limiter, each making calls until `calls` succeeded in all.
 * Each request reaches the server 0–100 ms after it starts (jitter) and is answered 50–300 ms
 * later; the server rejects with 429 when its rolling window is full, as Harvest does.
 */
async function simulate(input: SimulationInput) {
  const clock = new FakeClock();
  const random = seeded(input.seed);
  const limiter = new RateLimiter({ requests: input.configured, windowMs: input.windowMs, clock });
  const accepted: number[] = [];
  const starts: number[] = [];
  let succeeded = 0;
  let rejected = 0;
  let issued = 0;
  const began = clock.now();

  const serve = (arrival: number): number | 'ok' => {
    const inWindow = accepted.filter((t) => t > arrival - input.windowMs);
    if (inWindow.length < input.serverLimit) {
      accepted.push(arrival);
      return 'ok';
    }
    return Math.ceil((inWindow[0] + input.windowMs - arrival) / 1000) * 1000;
  };

  const worker = async () => {
    while (issued < input.calls) {
      issued++;
      for (;;) {
        const grant: Grant = await limiter.acquire();
        starts.push(grant.startedAt);
        await clock.sleep(random() * 100);
        const verdict = serve(clock.now());
        await clock.sleep(50 + random() * 250);
        if (verdict === 'ok') {
          succeeded++;
          break;
        }
        rejected++;
        limiter.onRateLimited(grant, input.sendRetryAfter ? verdict : 15_000);
      }
    }
  };
  await clock.run(Promise.all(Array.from({ length: input.workers }, worker)));
  return { succeeded, rejected, starts, elapsedMs: clock.now() - began, limiter };
}

/** Least time `calls` calls can take under `limit` per window: the last batch starts whole windows in. */
function minimumMs(calls: number, limit: number, windowMs: number): number {
  return Math.floor((calls - 1) / limit) * windowMs;
}

describe('RateLimiter', () => {
  it('never starts more than the limit in any window, and a correctly configured limit draws zero 429s', async () => {
    const result = await simulate({
      configured: 100,
      serverLimit: 100,
      windowMs: 15_000,
      calls: 1_000,
      // enough in flight that the limit, not the workers, sets the pace
      workers: 32,
      seed: 7,
      sendRetryAfter: true,
    });
    expect(result.rejected).toBe(0);
    expect(result.succeeded).toBe(1_000);
    for (let i = 0; i + 100 < result.starts.length; i++) {
      expect(result.starts[i + 100] - result.starts[i]).toBeGreaterThanOrEqual(15_000);
    }
    // within 5% of the least time the limit allows (plus one request's latency)
    const floor = minimumMs(1_000, 100, 15_000) + 400;
    expect(result.elapsedMs).toBeLessThanOrEqual(floor * 1.05);
  });

  it('keeps 429s under 1% of calls when the configured limit is twice what the server allows', async () => {
    for (const sendRetryAfter of [true, false]) {
      const result = await simulate({
        configured: 200,
        serverLimit: 100,
        windowMs: 15_000,
        calls: 3_000,
        workers: 4,
        seed: 11,
        sendRetryAfter,
      });
      expect(result.succeeded).toBe(3_000);
      expect(result.rejected).toBeGreaterThan(0);
      expect(result.rejected / (result.succeeded + result.rejected)).toBeLessThan(0.01);
      expect(result.limiter.effectiveLimit).toBeLessThanOrEqual(110);
      // learning costs some throughput, but the run stays near what the real limit allows
      expect(result.elapsedMs).toBeLessThan(minimumMs(3_000, 100, 15_000) * 1.25);
    }
  });

  it('grants waiting requests in the order they asked, one window apart when the limit is one', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 1, windowMs: 1_000, safetyMarginMs: 10, clock });
    const order: string[] = [];
    const times: number[] = [];
    const ask = (name: string) =>
      limiter.acquire().then(() => {
        order.push(name);
        times.push(clock.now());
      });
    const t0 = clock.now();
    await clock.run(Promise.all([ask('a'), ask('b'), ask('c'), ask('d')]));
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(times.map((t) => t - t0)).toEqual([0, 1_010, 2_020, 3_030]);
  });

  it('rejects an aborted wait with InterruptedError and gives its slot to the next in line', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 1, windowMs: 1_000, safetyMarginMs: 0, clock });
    await clock.run(limiter.acquire());
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    const next = limiter.acquire();
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(InterruptedError);
    const grant = await clock.run(next);
    expect(grant.waitedMs).toBe(1_000);
    expect(grant.cause).toBe('budget');
    await expect(limiter.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(InterruptedError);
  });

  it('leaves no timer running once the last waiter gives up, so an interrupted run can exit', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 1, windowMs: 15_000, clock });
    await clock.run(limiter.acquire());
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pending).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pending).toBe(0);
  });

  it('pauses every request after a 429 until Retry-After, and says the wait came from the 429', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 30, windowMs: 1_000, clock });
    const grants = await clock.run(Promise.all(Array.from({ length: 20 }, () => limiter.acquire())));
    const t = clock.now();
    limiter.onRateLimited(grants[19], 7_000);
    // it lowers itself to a little under what had got through (19 before the rejected one)
    expect(limiter.effectiveLimit).toBe(17);
    const [a, b] = await clock.run(Promise.all([limiter.acquire(), limiter.acquire()]));
    expect(a.startedAt - t).toBe(7_000);
    expect(b.startedAt - t).toBe(7_000);
    expect(a.cause).toBe('429');
  });

  it('climbs back towards the configured limit slowly after lowering, and never above it', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 100, windowMs: 1_000, recoveryMs: 2_000, clock });
    const grant: Grant = { startedAt: clock.now(), priorStarts: 50, waitedMs: 0, cause: null };
    limiter.onRateLimited(grant, 0);
    expect(limiter.effectiveLimit).toBe(45);
    await clock.run(clock.sleep(1_999));
    expect(limiter.effectiveLimit).toBe(45);
    await clock.run(clock.sleep(1));
    expect(limiter.effectiveLimit).toBe(46);
    await clock.run(clock.sleep(2_000 * 200));
    expect(limiter.effectiveLimit).toBe(100);
  });

  it('lowers once per episode: 429s to requests granted before the lowering do not lower it again', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 40, windowMs: 1_000, clock });
    const grants = await clock.run(Promise.all(Array.from({ length: 24 }, () => limiter.acquire())));
    limiter.onRateLimited(grants[20], 1_000);
    expect(limiter.effectiveLimit).toBe(18);
    limiter.onRateLimited(grants[21], 1_000);
    limiter.onRateLimited(grants[23], 1_000);
    expect(limiter.effectiveLimit).toBe(18);
  });

  it('halves, then recovers fast, after 429s its own traffic cannot explain (someone else used the budget)', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ requests: 100, windowMs: 1_000, recoveryMs: 2_000, clock });
    for (const expected of [50, 25]) {
      const grant = await clock.run(limiter.acquire());
      expect(grant.priorStarts).toBe(0);
      limiter.onRateLimited(grant, 1_000);
      expect(limiter.effectiveLimit).toBe(expected);
      await clock.run(clock.sleep(1_500));
    }
    await clock.run(clock.sleep(2_000));
    expect(limiter.effectiveLimit).toBe(35);
    await clock.run(clock.sleep(2_000 * 10));
    expect(limiter.effectiveLimit).toBe(100);
  });

  it('caps itself at a limit the server announces', () => {
    const limiter = new RateLimiter({ requests: 100, windowMs: 1_000, clock: new FakeClock() });
    limiter.onServerLimit(40);
    expect(limiter.effectiveLimit).toBe(40);
    // a higher announcement later is not trusted at once: the limit climbs back slowly
    limiter.onServerLimit(500);
    expect(limiter.effectiveLimit).toBe(40);
  });

  it('refuses a limit that is not a positive whole number', () => {
    const clock = new FakeClock();
    expect(() => new RateLimiter({ requests: 0, windowMs: 1_000, clock })).toThrow(/at least 1/);
    expect(() => new RateLimiter({ requests: 2.5, windowMs: 1_000, clock })).toThrow(/whole number/);
    expect(() => new RateLimiter({ requests: 5, windowMs: 0, clock })).toThrow(/positive/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('15', now)).toBe(15_000);
    expect(parseRetryAfter(' 2 ', now)).toBe(2_000);
  });
  it('reads an HTTP date, measured against the server Date header when given', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:09 GMT', now)).toBe(9_000);
    // our clock is 100 s ahead of the server's: the wait is still the 9 s the server meant
    expect(parseRetryAfter('Wed, 01 May 2024 11:58:29 GMT', now, 'Wed, 01 May 2024 11:58:20 GMT')).toBe(
      9_000,
    );
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });
  it('returns null when absent, empty or unreadable', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
  });
});
