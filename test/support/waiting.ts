import { createServer } from 'node:net';

/** A port nothing listens on: one the OS just gave out and took back. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Waits for a condition only another process can tell (no event of it reaches the test), up to a
 * deadline: the probe's value once it is not undefined. In-process code is awaited through its events
 * (SyncEvent, the scheduler's onRun…) instead.
 */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string | (() => string),
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A run of a `serve` process once `done` holds for it (by default: once it is no longer running),
 * read through `read` (GET /api/runs/:id). The one way tests wait for a run in another process.
 */
export async function runState<R extends { readonly status: string }>(
  read: () => Promise<R>,
  done: (run: R) => boolean = (run) => run.status !== 'running',
  timeoutMs = 45_000,
): Promise<R> {
  let last: R | undefined;
  return until(
    async () => {
      last = await read();
      return done(last) ? last : undefined;
    },
    () => `the run (last seen ${last === undefined ? 'never' : JSON.stringify(last.status)})`,
    timeoutMs,
    100,
  );
}
