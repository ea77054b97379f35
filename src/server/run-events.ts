import { Hono } from 'hono';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { SSEStreamingApi } from 'hono/streaming';
import type { ControlStore } from '../control/types.js';
import { HttpError } from './errors.js';
import type { AppEnv } from './middleware.js';
import { numericId } from './pipeline-routes.js';
import { presentWithPipeline } from './run-watch.js';
import type { RunPayload, RunWatch } from './run-watch.js';

/*
 * Server-Sent Events of runs, so a browser or a script awaits a run's state instead of polling:
 * - GET /api/runs/:id/events: `run` (its state now), `progress` at each change, `end` (its final
 *   state), then the server closes the stream;
 * - GET /api/events: `progress` for every run in progress now and at each change, `end` when one ends.
 * Every event's data is `{"run": …}` as GET /api/runs/:id sends it. A comment line every
 * `heartbeatMs` keeps idle connections (and proxies) from timing out.
 */

/** Below the server's idle timeout (60 s), so a quiet stream is never cut. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

export interface RunEventDeps {
  readonly store: ControlStore;
  readonly runWatch: RunWatch;
  readonly heartbeatMs?: number;
}

/**
 * What one stream has yet to send: the latest state of each run, not every state, so a client slow to
 * read holds one snapshot per run in progress however long it lags.
 */
class Mailbox {
  readonly #pending = new Map<number, RunPayload>();
  #wake: (() => void) | null = null;
  closed = false;

  put(run: RunPayload): void {
    this.#pending.set(run.id, run);
    this.#wake?.();
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  /** The runs changed since the last call, waiting up to `ms` (then none: time for a heartbeat). */
  async take(ms: number): Promise<RunPayload[]> {
    if (this.#pending.size === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    const runs = [...this.#pending.values()];
    this.#pending.clear();
    return runs;
  }
}

/** The fields whose change is an event (the pipeline's name is not one). */
const stateOf = (run: RunPayload) => `${run.status}|${run.finishedAt}|${JSON.stringify(run.objects)}`;

const send = (stream: SSEStreamingApi, event: 'run' | 'progress' | 'end', run: RunPayload) =>
  stream.writeSSE({ event, data: JSON.stringify({ run }) });

/**
 * An event stream of run `runId` (null: of every run) fed by the watch: the mailbox is subscribed for
 * the stream's lifetime and unsubscribed when it ends, whether the client left (abort), the run ended
 * or the server is stopping.
 */
function runStream(
  c: Context<AppEnv>,
  watch: { readonly runWatch: RunWatch; readonly runId: number | null },
  body: (stream: SSEStreamingApi, box: Mailbox) => Promise<void>,
): Response {
  return streamSSE(c, async (stream) => {
    const box = new Mailbox();
    const unsubscribe = watch.runWatch.subscribe(
      watch.runId,
      (run) => box.put(run),
      () => box.close(),
    );
    stream.onAbort(() => box.close());
    try {
      await body(stream, box);
    } finally {
      unsubscribe();
    }
  });
}

/** Each state of one run not sent yet (older or equal ones skipped), until it ends or the stream does. */
async function followRun(stream: SSEStreamingApi, box: Mailbox, first: RunPayload, heartbeatMs: number) {
  let last = first;
  await send(stream, 'run', last);
  while (last.status === 'running' && !box.closed && !stream.aborted) {
    const [next] = await box.take(heartbeatMs);
    if (next === undefined) {
      if (!box.closed) await stream.write(': keep-alive\n\n');
    } else if (stateOf(next) !== stateOf(last)) {
      last = next;
      if (last.status === 'running') await send(stream, 'progress', last);
    }
  }
  if (last.status !== 'running') await send(stream, 'end', last);
}

/** Every run's changes, until the client leaves or the server stops. */
async function followAll(stream: SSEStreamingApi, box: Mailbox, first: RunPayload[], heartbeatMs: number) {
  // the last state sent of each run in progress, so a state seen twice is sent once
  const sent = new Map<number, string>();
  let runs = first;
  while (!box.closed && !stream.aborted) {
    for (const run of runs) {
      const state = stateOf(run);
      if (sent.get(run.id) === state) continue;
      if (run.status === 'running') sent.set(run.id, state);
      else sent.delete(run.id);
      await send(stream, run.status === 'running' ? 'progress' : 'end', run);
    }
    runs = await box.take(heartbeatMs);
    if (runs.length === 0 && !box.closed) await stream.write(': keep-alive\n\n');
  }
}

/** GET /runs/:id/events and GET /events, mounted under /api behind its authentication. */
export function runEventRoutes(deps: RunEventDeps): Hono<AppEnv> {
  const { store, runWatch } = deps;
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const routes = new Hono<AppEnv>();

  routes.get('/runs/:id/events', async (c) => {
    const parsed = numericId.safeParse(c.req.param('id'));
    const id = parsed.success ? parsed.data : null;
    // looked up before the stream starts, so an unknown run is a 404 JSON like GET /api/runs/:id
    if (id === null || (await store.getRun(id)) === null) throw new HttpError(404, 'no such run');
    return runStream(c, { runWatch, runId: id }, async (stream, box) => {
      // read again once subscribed: a change between the two reads is then never missed
      const run = await store.getRun(id);
      if (run) await followRun(stream, box, await presentWithPipeline(store, run), heartbeatMs);
    });
  });

  routes.get('/events', (c) =>
    runStream(c, { runWatch, runId: null }, async (stream, box) => {
      const running = await store.listRuns({ status: 'running', limit: 1000 });
      const first = await Promise.all(running.map((run) => presentWithPipeline(store, run)));
      await followAll(stream, box, first, heartbeatMs);
    }),
  );

  return routes;
}
