/** Time, injected wherever code waits or stamps, so tests can drive it. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A clock running `speed` times faster than real time, equal to it at `originMs`: the bench runs a
 * day of hourly schedules in minutes. Every process of one bench gets the same origin and speed.
 */
export function fastClock(originMs: number, speed: number): Clock {
  return {
    now: () => originMs + (Date.now() - originMs) * speed,
    sleep: (ms, signal) => systemClock.sleep(ms / speed, signal),
  };
}

/** HARVEST_SYNC_FAST_CLOCK=<origin ms>:<speed> (bench only) gives a fast clock; the system clock otherwise. */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(env.HARVEST_SYNC_FAST_CLOCK ?? '');
  if (!m || !(Number(m[2]) >= 1)) return systemClock;
  return fastClock(Number(m[1]), Number(m[2]));
}
