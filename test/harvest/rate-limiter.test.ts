import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { RateLimiter, parseRetryAfter, type Grant } from '../../src/harvest/rate-limiter.js';
import { seeded } from './helpers.js';
import { TestClock } from '../support/clock.js';

interface SimulationInput {
  /** What the client is told. */
  configured: number;
  /** What the simulated server enforces, on a rolling window of arrivals. */
  serverLimit: number;
  windowMs: number;
  calls: number;
  workers: number;
  /** Each request is answered 0–maxLatencyMs after it is granted. */
  maxLatencyMs: number;
  seed: number;
  /** Whether the server's 429 says when to come back (Harvest's real one did not). */
  sendRetryAfter: boolean;
}

/**
 * `workers` concurrent loops share one limiter, each making calls until `calls` succeeded in all.
 * The server counts a request when it arrives, anywhere between its grant and its response: a third
 * of them at once, a third only just before the answer (the worst case for a limiter that counts
 * from the grant: one counted late, the next counted early), the rest in between. It rejects with
 * 429 when its rolling window of accepted arrivals is full, as Harvest and the simulator do.
 */
async function simulate(input: SimulationInput) {
  const clock = new TestClock({ start: 1_700_000_000_000 });
  const random = seeded(input.seed);
  const limiter = new RateLimiter({ requests: input.configured, windowMs: input.windowMs, clock });
  const accepted: number[] = [];
  const starts: number[] = [];
  let succeeded = 0;
  let rejected = 0;
  let issued = 0;

  const serve = (arrival: number): number | 'ok' => {
    while (accepted.length > 0 && accepted[0] <= arrival - input.windowMs) accepted.shift();
    if (accepted.length < input.serverLimit) {
      accepted.push(arrival);
      return 'ok';
    }
    return Math.ceil((accepted[0] + input.windowMs - arrival) / 1000) * 1000;
  };

  const worker = async () => {
    while (issued < input.calls) {
      issued++;
      for (;;) {
        const grant: Grant = await limiter.acquire();
        starts.push(grant.startedAt);
        const latency = random() * input.maxLatencyMs;
        const where = random();
        const share = where < 1 / 3 ? 0 : where < 2 / 3 ? 1 : random();
        await clock.sleep(share * latency);
        const verdict = serve(clock.now());
        await clock.sleep((1 - share) * latency);
        limiter.settle(grant);
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
  // as the bench counts it: from the first start to the last (the last call's own duration aside)
  const elapsedMs = starts[starts.length - 1] - starts[0];
  return { succeeded, rejected, starts, elapsedMs, limiter };
}

/** Least time `calls` calls can take under `limit` per window: the last batch starts whole windows in. */
function minimumMs(calls: number, limit: number, windowMs: number): number {
  return Math.floor((calls - 1) / limit) * windowMs;
}

/** The default safety margin: 0.1% of the window, at least 1 ms. */
const marginOf = (windowMs: number) => Math.max(1, Math.ceil(windowMs / 1000));

describe('RateLimiter against a server counting arrivals', () => {
  /*
   * A slot is held from its grant until a window after its response, so each `limit` calls take at
   * most window + latency + margin: the run is at most (1 + (maxLatency + margin) / window) × the
   * minimum, as long as the workers can keep `limit` calls going per window. Small latency against
   * the window (Harvest: ≤ 300 ms against 15 s) keeps it within 5%.
   */
  const cases = [
    { limit: 20, windowMs: 1_000, maxLatencyMs: 10, workers: 1 },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 10, workers: 4 },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 10, workers: 32 },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 100, workers: 4 },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 100, workers: 32 },
    // a request may be counted a whole window after it was granted
    { limit: 20, windowMs: 1_000, maxLatencyMs: 1_000, workers: 32 },
    { limit: 100, windowMs: 15_000, maxLatencyMs: 300, workers: 4 },
    { limit: 100, windowMs: 15_000, maxLatencyMs: 300, workers: 32 },
  ];

  it.each(cases)(
    'draws zero 429s when configured right, and takes at most (1 + latency/window) × the minimum: $limit per $windowMs ms, latency ≤ $maxLatencyMs ms, $workers workers',
    async ({ limit, windowMs, maxLatencyMs, workers }) => {
      const calls = 100 * limit;
      const result = await simulate({
        configured: limit,
        serverLimit: limit,
        windowMs,
        calls,
        workers,
        maxLatencyMs,
        seed: 7 + workers + maxLatencyMs,
        sendRetryAfter: true,
      });
      expect(result.rejected).toBe(0);
      expect(result.succeeded).toBe(calls);
      const minimum = minimumMs(calls, limit, windowMs);
      expect(result.elapsedMs).toBeGreaterThanOrEqual(minimum);
      const bound = minimum * (1 + (maxLatencyMs + marginOf(windowMs)) / windowMs);
      expect(result.elapsedMs).toBeLessThanOrEqual(bound);
      if ((maxLatencyMs + marginOf(windowMs)) / windowMs <= 0.05) {
        expect(result.elapsedMs).toBeLessThanOrEqual(minimum * 1.05);
      }
    },
  );

  const tooHigh = [
    { limit: 20, windowMs: 1_000, maxLatencyMs: 10, workers: 1, sendRetryAfter: true },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 10, workers: 5, sendRetryAfter: true },
    { limit: 20, windowMs: 1_000, maxLatencyMs: 100, workers: 8, sendRetryAfter: true },
    { limit: 100, windowMs: 15_000, maxLatencyMs: 300, workers: 4, sendRetryAfter: true },
    { limit: 100, windowMs: 15_000, maxLatencyMs: 300, workers: 4, sendRetryAfter: false },
  ];

  it.each(tooHigh)(
    'keeps 429s under 1% of calls when configured twice too high: $limit per $windowMs ms, latency ≤ $maxLatencyMs ms, $workers workers, Retry-After $sendRetryAfter',
    async ({ limit, windowMs, maxLatencyMs, workers, sendRetryAfter }) => {
      const calls = 150 * limit;
      const result = await simulate({
        configured: 2 * limit,
        serverLimit: limit,
        windowMs,
        calls,
        workers,
        maxLatencyMs,
        seed: 11 + workers,
        sendRetryAfter,
      });
      expect(result.succeeded).toBe(calls);
      expect(result.rejected).toBeGreaterThan(0);
      expect(result.rejected / (result.succeeded + result.rejected)).toBeLessThan(0.01);
      // it settles just under the level refused, probing it again only now and then
      expect(result.limiter.effectiveLimit).toBeLessThanOrEqual(limit + 1);
      // learning costs some throughput, but the run stays near what the real limit allows
      expect(result.elapsedMs).toBeLessThan(minimumMs(calls, limit, windowMs) * 1.15);
    },
  );
});

describe('RateLimiter', () => {
  it('holds a slot until a window after the response: a late answer delays the next request by as much', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 1, windowMs: 1_000, safetyMarginMs: 0, clock });
    const t0 = clock.now();
    const first = await clock.run(limiter.acquire());
    const next = limiter.acquire();
    await clock.run(clock.sleep(300));
    limiter.settle(first);
    const grant = await clock.run(next);
    expect(grant.startedAt - t0).toBe(1_300);
    expect(grant.inWindow).toBe(0);
  });

  it('waits for a request in flight however long it takes, and the settle wakes the queue', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 2, windowMs: 1_000, safetyMarginMs: 0, clock });
    const t0 = clock.now();
    const [a, b] = await clock.run(Promise.all([limiter.acquire(), limiter.acquire()]));
    let granted: Grant | null = null;
    const next = limiter.acquire().then((g) => (granted = g));
    // two windows pass with both still in flight: the server may yet count them
    await clock.run(clock.sleep(2_000));
    expect(granted).toBeNull();
    // waiting for a settle needs no timer
    expect(clock.pending).toBe(0);
    limiter.settle(a);
    limiter.settle(a);
    limiter.settle({ startedAt: t0, inWindow: 0, waitedMs: 0, cause: null });
    await clock.run(next);
    // a was answered at +2000: its slot frees at +3000, b still in flight holds the other
    expect((granted as Grant | null)?.startedAt).toBe(t0 + 3_000);
    expect((granted as Grant | null)?.inWindow).toBe(1);
    limiter.settle(b);
  });

  it('grants waiting requests in the order they asked, one window after each answer when the limit is one', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 1, windowMs: 1_000, safetyMarginMs: 10, clock });
    const order: string[] = [];
    const times: number[] = [];
    const ask = async (name: string) => {
      const grant = await limiter.acquire();
      order.push(name);
      times.push(clock.now());
      await clock.sleep(100);
      limiter.settle(grant);
    };
    const t0 = clock.now();
    await clock.run(Promise.all([ask('a'), ask('b'), ask('c'), ask('d')]));
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(times.map((t) => t - t0)).toEqual([0, 1_110, 2_220, 3_330]);
  });

  it('rejects an aborted wait with InterruptedError and gives its slot to the next in line', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 1, windowMs: 1_000, safetyMarginMs: 0, clock });
    limiter.settle(await clock.run(limiter.acquire()));
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

  it('leaves no timer or wait running once the last waiter gives up, so an interrupted run can exit', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 1, windowMs: 15_000, clock });
    const first = await clock.run(limiter.acquire());
    // waiting for the request in flight, then for its window
    for (const settleFirst of [false, true]) {
      if (settleFirst) limiter.settle(first);
      const controller = new AbortController();
      const waiting = limiter.acquire(controller.signal);
      await new Promise((resolve) => setImmediate(resolve));
      expect(clock.pending).toBe(settleFirst ? 1 : 0);
      controller.abort();
      await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
      await new Promise((resolve) => setImmediate(resolve));
      expect(clock.pending).toBe(0);
    }
    // the pump is free again: a later request is granted once the window has passed
    const later = await clock.run(limiter.acquire());
    expect(later.startedAt - first.startedAt).toBe(15_000 + 15);
  });

  it('pauses every request after a 429 until Retry-After, and says the wait came from the 429', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 30, windowMs: 1_000, clock });
    const grants = await clock.run(Promise.all(Array.from({ length: 20 }, () => limiter.acquire())));
    const t = clock.now();
    for (const grant of grants) limiter.settle(grant);
    limiter.onRateLimited(grants[19], 7_000);
    // it lowers itself to a little under what the server may have counted (19 before the rejected one)
    expect(limiter.effectiveLimit).toBe(17);
    const [a, b] = await clock.run(Promise.all([limiter.acquire(), limiter.acquire()]));
    expect(a.startedAt - t).toBe(7_000);
    expect(b.startedAt - t).toBe(7_000);
    expect(a.cause).toBe('429');
  });

  it('climbs back slowly after lowering, stops just under the level refused, and probes it only after probeMs', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({
      requests: 100,
      windowMs: 1_000,
      recoveryMs: 2_000,
      probeMs: 30_000,
      clock,
    });
    const grant: Grant = { startedAt: clock.now(), inWindow: 50, waitedMs: 0, cause: null };
    limiter.onRateLimited(grant, 0);
    expect(limiter.effectiveLimit).toBe(45);
    await clock.run(clock.sleep(1_999));
    expect(limiter.effectiveLimit).toBe(45);
    await clock.run(clock.sleep(1));
    expect(limiter.effectiveLimit).toBe(46);
    // up to 50 (51 was refused) in four more steps, and no further for the probe interval
    await clock.run(clock.sleep(4 * 2_000 + 29_999));
    expect(limiter.effectiveLimit).toBe(50);
    await clock.run(clock.sleep(1));
    expect(limiter.effectiveLimit).toBe(51);
    // the probe went through: the refusal is forgotten and the limit climbs back, never above configured
    await clock.run(clock.sleep(2_000 * 200));
    expect(limiter.effectiveLimit).toBe(100);
  });

  it('keeps the lowest bound of one burst of refusals, in whatever order they come back, and climbs back only to under it', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 40, windowMs: 1_000, recoveryMs: 2_000, clock });
    const grants = await clock.run(Promise.all(Array.from({ length: 24 }, () => limiter.acquire())));
    await clock.run(clock.sleep(10));
    for (const grant of grants) limiter.settle(grant);
    // the refusal of the 24th comes back first: the server's limit is at most 23
    limiter.onRateLimited(grants[23], 1_000);
    expect(limiter.effectiveLimit).toBe(20);
    // then the 21st's: at most 20
    limiter.onRateLimited(grants[20], 1_000);
    expect(limiter.effectiveLimit).toBe(18);
    limiter.onRateLimited(grants[21], 1_000);
    limiter.onRateLimited(grants[22], 1_000);
    expect(limiter.effectiveLimit).toBe(18);
    // two steps back up, to 20 and not 21: 21 of ours were refused
    await clock.run(clock.sleep(2_000 * 5));
    expect(limiter.effectiveLimit).toBe(20);
  });

  it('halves once per burst of 429s its own traffic cannot explain (someone else used the budget), then recovers fast', async () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
    const limiter = new RateLimiter({ requests: 100, windowMs: 1_000, recoveryMs: 2_000, clock });
    for (const expected of [50, 25]) {
      const [a, b] = await clock.run(Promise.all([limiter.acquire(), limiter.acquire()]));
      expect([a.inWindow, b.inWindow]).toEqual([0, 1]);
      await clock.run(clock.sleep(10));
      limiter.settle(a);
      limiter.settle(b);
      limiter.onRateLimited(a, 1_000);
      limiter.onRateLimited(b, 1_000);
      expect(limiter.effectiveLimit).toBe(expected);
      await clock.run(clock.sleep(1_500));
    }
    await clock.run(clock.sleep(2_000));
    expect(limiter.effectiveLimit).toBe(35);
    await clock.run(clock.sleep(2_000 * 10));
    expect(limiter.effectiveLimit).toBe(100);
  });

  it('caps itself at a limit the server announces', () => {
    const limiter = new RateLimiter({
      requests: 100,
      windowMs: 1_000,
      clock: new TestClock({ start: 1_700_000_000_000 }),
    });
    limiter.onServerLimit(40);
    expect(limiter.effectiveLimit).toBe(40);
    // a higher announcement later is not trusted at once: the limit climbs back slowly
    limiter.onServerLimit(500);
    expect(limiter.effectiveLimit).toBe(40);
  });

  it('refuses a limit that is not a positive whole number', () => {
    const clock = new TestClock({ start: 1_700_000_000_000 });
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
