import type { RunView } from './api.js';

/** The events of the API's run streams (GET /api/runs/:id/events and GET /api/events). */
export type RunEventName = 'run' | 'progress' | 'end';

export interface RunStreamHandlers {
  /** Each state of a run the stream sends, with its event's name. */
  onRun(run: RunView, event: RunEventName): void;
  /** The browser could not follow the stream (no EventSource, or refused): the page polls instead. */
  onFail(): void;
}

/**
 * Follows a run event stream of the API; returns what stops it. A dropped connection is retried by
 * the browser itself (the server then sends the current state again).
 */
export function followRuns(path: string, handlers: RunStreamHandlers): () => void {
  if (typeof EventSource !== 'function') {
    handlers.onFail();
    return () => undefined;
  }
  const source = new EventSource(path);
  for (const name of ['run', 'progress', 'end'] as const) {
    source.addEventListener(name, (event: MessageEvent<string>) =>
      handlers.onRun((JSON.parse(event.data) as { run: RunView }).run, name),
    );
  }
  source.addEventListener('error', () => {
    // CONNECTING: the browser retries by itself; CLOSED: it gave up (a refusal, not a stream)
    if (source.readyState === EventSource.CLOSED) handlers.onFail();
  });
  return () => source.close();
}
