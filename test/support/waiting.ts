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

/** One Server-Sent Event: its name and its data (lines joined). */
export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * The events of a Server-Sent Events response, as they arrive, until the server closes the stream.
 * Comment lines (keep-alives) are skipped. Breaking out of the loop cancels the response.
 */
export async function* sseEvents(response: Response): AsyncGenerator<StreamEvent> {
  if (!response.body) throw new Error('the response has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const field = (name: string) =>
          block
            .filter((line) => line.startsWith(`${name}:`))
            .map((line) => line.slice(name.length + 1).trimStart());
        const data = field('data');
        if (data.length > 0) yield { event: field('event')[0] ?? 'message', data: data.join('\n') };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Where a run lives: a `serve` process's URL, the run's id, and the credentials to read it. */
export interface RunTarget {
  readonly url: string;
  readonly runId: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A run of a `serve` process once `done` holds for it (by default: once it is no longer running),
 * read from its event stream (GET /api/runs/:id/events): the one way tests wait for a run in another
 * process. Fails when the stream ends (the run's `end`) without `done` holding, or at the timeout.
 */
export async function runState<R extends { readonly status: string }>(
  target: RunTarget,
  done: (run: R) => boolean = (run) => run.status !== 'running',
  timeoutMs = 45_000,
): Promise<R> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let last: R | undefined;
  try {
    const response = await fetch(`${target.url}/api/runs/${target.runId}/events`, {
      headers: { ...target.headers, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (response.status !== 200)
      throw new Error(`GET /api/runs/${target.runId}/events: ${response.status} ${await response.text()}`);
    for await (const { data } of sseEvents(response)) {
      last = (JSON.parse(data) as { run: R }).run;
      if (done(last)) return last;
    }
    throw new Error(`the run ended as ${JSON.stringify(last?.status)} without reaching the awaited state`);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for the run (last seen ${last === undefined ? 'never' : JSON.stringify(last.status)})`,
    );
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
