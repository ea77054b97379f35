import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { userMessage } from '../errors.js';
import type { ControlStore, Run } from '../control/types.js';
import { presentRun } from './present.js';

/** A run as the API sends it (GET /api/runs/:id), pipeline name included. */
export type RunPayload = ReturnType<typeof presentRun>;

/** How often the store is read while someone listens: progress lands there at most once a second. */
export const DEFAULT_WATCH_INTERVAL_MS = 500;
/** Newest runs looked at on each check, to catch a run that started and ended between two checks. */
const RECENT_RUNS = 20;
/** Runner events after which the store has news (RunnerEvent types). */
const NEWS = new Set(['run:started', 'run:finished', 'object:start', 'object:done']);

export interface RunWatchOptions {
  readonly store: ControlStore;
  /** Paces the checks; the wall clock by default (a fake one that never sleeps would spin). */
  readonly clock?: Clock;
  readonly intervalMs?: number;
  /** A failed check (the store unreachable), once until a check succeeds again: the next one retries. */
  readonly onError?: (message: string) => void;
}

interface Listener {
  /** One run, or null for every run. */
  readonly runId: number | null;
  readonly onRun: (run: RunPayload) => void;
  /** Called by `close()`: the server is stopping. */
  readonly onClose: () => void;
}

/** What identifies a state of a run: a change of any of these is worth an event. */
const fingerprint = (run: Run) => `${run.status}|${run.finishedAt}|${JSON.stringify(run.objects)}`;

/**
 * The server's one watch over the control store's runs, shared by every event stream: runs executed
 * by this process (whose runner calls `nudge()` on each event) and by worker processes (which only
 * write to the store) are seen the same way. It reads the store only while someone listens, once per
 * interval whatever the number of listeners, and remembers only the runs in progress.
 */
export class RunWatch {
  readonly #store: ControlStore;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #onError: (message: string) => void;
  readonly #listeners = new Set<Listener>();
  /** Runs seen running at the last check, by id: their fingerprint then. */
  #running = new Map<number, string>();
  /** The highest run id seen: newer ones are new runs. Null before the first check of a watch. */
  #newestId: number | null = null;
  #loop: AbortController | null = null;
  #wake: (() => void) | null = null;
  /** Set by `observe` during a check: the next one starts without waiting. */
  #nudged = false;
  #closed = false;
  #failing = false;

  constructor(options: RunWatchOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Open listeners (event streams): the test of "a client that leaves frees its listener". */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /**
   * Calls `onRun` with each new state of run `runId` (null: of every run) until the returned function
   * is called. `onClose` is called if the watch closes first (server shutdown).
   */
  subscribe(runId: number | null, onRun: (run: RunPayload) => void, onClose: () => void): () => void {
    if (this.#closed) {
      onClose();
      return () => undefined;
    }
    const listener: Listener = { runId, onRun, onClose };
    this.#listeners.add(listener);
    this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** Whether the store is being read (only while someone listens). */
  get watching(): boolean {
    return this.#loop !== null;
  }

  /**
   * Checks the store soon rather than at the end of the interval when this process's runner starts or
   * ends a run or an object (those are written to the store at once; a page's progress is not).
   */
  observe(event: { readonly type: string }): void {
    if (!NEWS.has(event.type)) return;
    this.#nudged = true;
    this.#wake?.();
  }

  /** Ends every listener (their streams close) and refuses new ones: the server is stopping. */
  close(): void {
    this.#closed = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    this.#stop();
    for (const listener of listeners) listener.onClose();
  }

  #start(): void {
    if (this.#loop) return;
    const controller = new AbortController();
    this.#loop = controller;
    void (async () => {
      while (!controller.signal.aborted) {
        this.#nudged = false;
        await this.#check().then(
          () => (this.#failing = false),
          (error: unknown) => {
            // said once, not every interval, while the store stays unreachable
            if (!this.#failing) this.#onError(userMessage(error));
            this.#failing = true;
          },
        );
        if (controller.signal.aborted) break;
        if (this.#nudged) continue;
        const woken = new AbortController();
        this.#wake = () => woken.abort();
        const stop = () => woken.abort();
        controller.signal.addEventListener('abort', stop, { once: true });
        await this.#clock.sleep(this.#intervalMs, woken.signal).catch(() => undefined);
        controller.signal.removeEventListener('abort', stop);
        this.#wake = null;
      }
    })();
  }

  #stop(): void {
    this.#loop?.abort();
    this.#loop = null;
    this.#wake = null;
    // nothing is kept between watches: the next one starts from the store as it is then
    this.#running = new Map();
    this.#newestId = null;
  }

  async #check(): Promise<void> {
    const running = await this.#store.listRuns({ status: 'running', limit: 1000 });
    const changed: Run[] = running.filter((run) => this.#running.get(run.id) !== fingerprint(run));
    const runningIds = new Set(running.map((run) => run.id));
    // runs that were running (or are listened to) and are no longer: read once more for their end
    const gone = new Set([...this.#running.keys()]);
    for (const listener of this.#listeners) if (listener.runId !== null) gone.add(listener.runId);
    for (const id of gone) {
      if (runningIds.has(id)) continue;
      const run = await this.#store.getRun(id);
      if (run && run.status !== 'running') changed.push(run);
    }
    await this.#newRuns(changed);
    this.#running = new Map(running.map((run) => [run.id, fingerprint(run)]));
    await this.#dispatch(changed);
  }

  /** Runs newer than any seen that already ended (between two checks), for the all-runs listeners. */
  async #newRuns(changed: Run[]): Promise<void> {
    const recent = await this.#store.listRuns({ limit: RECENT_RUNS });
    const newest = Math.max(this.#newestId ?? 0, ...recent.map((run) => run.id));
    if (this.#newestId !== null) {
      const known = new Set(changed.map((run) => run.id));
      for (const run of recent)
        if (run.id > this.#newestId && run.status !== 'running' && !known.has(run.id)) changed.push(run);
    }
    this.#newestId = newest;
  }

  async #dispatch(changed: readonly Run[]): Promise<void> {
    for (const run of changed) {
      const listeners = [...this.#listeners].filter((l) => l.runId === null || l.runId === run.id);
      if (listeners.length === 0) continue;
      const payload = await presentWithPipeline(this.#store, run);
      for (const listener of listeners) listener.onRun(payload);
    }
  }
}

/** A run as the API sends it, with its pipeline's name (null once the pipeline is deleted). */
export async function presentWithPipeline(store: ControlStore, run: Run): Promise<RunPayload> {
  const pipeline = await store.getPipeline(run.pipelineId);
  return presentRun(run, pipeline?.name ?? null);
}
