import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { pipelineDestinations } from '../../src/control/destination-scope.js';
import { runPipeline } from '../../src/control/pipeline-runner.js';
import { Scheduler } from '../../src/control/scheduler.js';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import type { ControlStore, Pipeline } from '../../src/control/types.js';
import { createApp } from '../../src/server/app.js';
import { Auth, memoryCredentialStore } from '../../src/server/auth.js';
import { createLogger } from '../../src/server/logger.js';
import { createMetrics } from '../../src/server/metrics.js';
import { RunWatch } from '../../src/server/run-watch.js';
import type { RunPayload } from '../../src/server/run-watch.js';
import { SchedulerSeam } from '../../src/server/scheduler-adapter.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { sseEvents, until } from '../support/waiting.js';

/*
 * The run event streams (GET /api/runs/:id/events, GET /api/events) over real HTTP: a real server,
 * a real SQLite control store, real runs against the simulator.
 */

const OBJECTS = ['clients', 'projects', 'tasks', 'time_entries'];

let dataDir: string;
let sim: Simulator;
let store: ControlStore;
let auth: Auth;
let runWatch: RunWatch;
let scheduler: Scheduler;
let server: RunningServer;
let pipeline: Pipeline;
let adminToken: string;
let readToken: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'hs-events-'));
  sim = await startSimulator({ scale: 0.05, rateLimit: null });
  store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)) });
  auth = new Auth({ credentials: memoryCredentialStore() });
  adminToken = auth.rotateApiToken();
  readToken = auth.createApiToken('dashboard', 'read').secret;
  runWatch = new RunWatch({ store, intervalMs: 100 });
  const baseUrls = BaseUrlPolicy.from({ flags: [sim.url] });
  // as serve wires it: the runner's events nudge the watch
  scheduler = new Scheduler({ store, dataDir, baseUrls, onEvent: (event) => runWatch.observe(event) });
  const app = createApp({
    store,
    scheduler: new SchedulerSeam(scheduler, systemClock),
    auth,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger({ level: 'silent' }),
    clock: systemClock,
    testConnection: () => Promise.reject(new Error('not used')),
    testDestination: () => Promise.reject(new Error('not used')),
    destinations: pipelineDestinations(dataDir),
    baseUrls,
    runWatch,
    heartbeatMs: 200,
  });
  server = await startServer(app, { host: '127.0.0.1', port: 0 });
  pipeline = await store.createPipeline({
    name: 'events',
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    destination: 'sqlite:events.db',
    objects: OBJECTS,
    frequencyHours: 24,
    since: null,
    fullRefreshHours: 24,
    enabled: false,
  });
});

afterAll(async () => {
  await scheduler?.stop();
  await server?.close({ graceMs: 100 });
  await store?.close();
  await sim?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const bearer = (token = adminToken) => ({ authorization: `Bearer ${token}` });

interface Received {
  readonly event: string;
  readonly run: RunPayload;
}

/** Every event of a stream until the server closes it. */
async function readAll(response: Response): Promise<Received[]> {
  const received: Received[] = [];
  for await (const { event, data } of sseEvents(response))
    received.push({ event, run: (JSON.parse(data) as { run: RunPayload }).run });
  return received;
}

/** Slow Harvest answers, so a run lasts long enough to be seen in progress. */
async function slowly<T>(slowMs: number, body: () => Promise<T>): Promise<T> {
  sim.setFaults({ slowRate: 1, slowMs });
  try {
    return await body();
  } finally {
    sim.setFaults(null);
  }
}

/** What a stream of one run from its start must hold: run, progress…, end, in order, counts growing. */
function expectWholeRun(received: readonly Received[], runId: number) {
  const names = received.map((r) => r.event);
  expect(names[0]).toBe('run');
  expect(names.at(-1)).toBe('end');
  expect(names.slice(1, -1).every((name) => name === 'progress')).toBe(true);
  expect(names.filter((name) => name === 'progress').length).toBeGreaterThan(0);
  expect(received.every((r) => r.run.id === runId && r.run.pipeline === 'events')).toBe(true);
  expect(received.slice(0, -1).every((r) => r.run.status === 'running')).toBe(true);
  const read = received.map((r) => r.run.totals.read);
  expect(read).toEqual([...read].sort((a, b) => a - b));
  // each object is seen running before it is seen done
  const seenRunning = new Set(received.flatMap((r) => r.run.objects.filter((o) => o.status === 'running')));
  expect(seenRunning.size).toBeGreaterThan(0);
}

describe('GET /api/runs/:id/events', () => {
  it('streams a run of this process: its state at once, each change, the end, then closes', async () => {
    const received = await slowly(60, async () => {
      const run = await scheduler.runNow(pipeline.id);
      const response = await fetch(`${server.url}/api/runs/${run.id}/events`, { headers: bearer() });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      return readAll(response);
    });
    const final = received.at(-1)!.run;
    expectWholeRun(received, final.id);
    expect(final.status).toBe('succeeded');
    expect(final.objects.map((o) => o.status)).toEqual(OBJECTS.map(() => 'succeeded'));
    expect(final.totals.read).toBeGreaterThan(0);
    // the end is the run as GET /api/runs/:id has it
    const stored = await fetch(`${server.url}/api/runs/${final.id}`, { headers: bearer() });
    expect(((await stored.json()) as { run: RunPayload }).run).toEqual(final);
  });

  it('streams a run executed elsewhere (a worker), learned from the control store alone', async () => {
    const before = (await store.lastRun(pipeline.id))!.id;
    // runPipeline on the same store, without the watch's nudges: what a worker process does
    const done = slowly(60, () =>
      runPipeline(store, pipeline.id, {
        trigger: 'manual',
        dataDir,
        baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }),
        progressIntervalMs: 100,
      }),
    );
    const running = await until(async () => {
      const last = await store.lastRun(pipeline.id);
      return last && last.id > before ? last : undefined;
    }, 'the run');
    const response = await fetch(`${server.url}/api/runs/${running.id}/events`, { headers: bearer() });
    const received = await readAll(response);
    expectWholeRun(received, running.id);
    expect(received.at(-1)!.run).toMatchObject({ status: (await done).status, totals: (await done).totals });
  });

  it('sends the state and the end of a run already over, then closes', async () => {
    const last = (await store.lastRun(pipeline.id))!;
    const response = await fetch(`${server.url}/api/runs/${last.id}/events`, { headers: bearer() });
    const received = await readAll(response);
    expect(received.map((r) => r.event)).toEqual(['run', 'end']);
    expect(received[1].run.status).toBe(last.status);
  });

  it('needs credentials like the other routes: 401 JSON without, a read-scope token suffices', async () => {
    const last = (await store.lastRun(pipeline.id))!;
    const path = `${server.url}/api/runs/${last.id}/events`;
    for (const headers of [{}, bearer('not-a-token-of-this-server-at-all-0000')]) {
      const refused = await fetch(path, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
        /authentication required|invalid API token/,
      );
    }
    expect((await fetch(`${server.url}/api/events`)).status).toBe(401);
    const read = await fetch(path, { headers: bearer(readToken) });
    expect(read.status).toBe(200);
    expect((await readAll(read)).map((r) => r.event)).toEqual(['run', 'end']);
  });

  it('answers an unknown run with a 404 JSON error', async () => {
    for (const id of ['999999', 'abc', '0', '1e400']) {
      const res = await fetch(`${server.url}/api/runs/${id}/events`, { headers: bearer() });
      expect(res.status, id).toBe(404);
      expect(await res.json()).toEqual({ error: { message: 'no such run' } });
    }
    expect(runWatch.listenerCount).toBe(0);
  });
});

describe('GET /api/events', () => {
  it('streams every run: progress while it runs, end when it ends, and keeps the stream open', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/events`, {
      headers: bearer(),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    await until(async () => (runWatch.listenerCount === 1 ? true : undefined), 'the stream to listen');
    const received: Received[] = [];
    const run = await slowly(60, async () => {
      const started = await scheduler.runNow(pipeline.id);
      for await (const { event, data } of sseEvents(response)) {
        received.push({ event, run: (JSON.parse(data) as { run: RunPayload }).run });
        if (event === 'end') break;
      }
      return started;
    });
    controller.abort();
    expect(received.every((r) => r.run.id === run.id)).toBe(true);
    expect(received.at(-1)!.run.status).toBe('succeeded');
    expect(received.slice(0, -1).every((r) => r.event === 'progress' && r.run.status === 'running')).toBe(
      true,
    );
    expect(received.length).toBeGreaterThan(2);
  });

  it('keeps a quiet stream alive with comment lines', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/events`, {
      headers: bearer(),
      signal: controller.signal,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    controller.abort();
    expect(value).toBe(': keep-alive\n\n');
  });
});

describe('listeners', () => {
  it('frees the listener of a client that leaves, and stops reading the store with none left', async () => {
    await until(async () => (runWatch.listenerCount === 0 ? true : undefined), 'earlier streams to end');
    await slowly(200, async () => {
      const run = await scheduler.runNow(pipeline.id);
      const streams = [`/api/runs/${run.id}/events`, '/api/events'].map((path) => {
        const controller = new AbortController();
        return {
          controller,
          response: fetch(`${server.url}${path}`, { headers: bearer(), signal: controller.signal }),
        };
      });
      for (const { response } of streams) expect((await response).status).toBe(200);
      await until(async () => (runWatch.listenerCount === 2 ? true : undefined), 'two listeners');
      for (const { controller } of streams) controller.abort();
      await until(async () => (runWatch.listenerCount === 0 ? true : undefined), 'no listener', 5_000);
      expect(runWatch.watching).toBe(false);
      // the run itself goes on to its end
      expect((await scheduler.wait(pipeline.id))?.status).toBe('succeeded');
    });
  });

  it('says once that the store cannot be read, however many checks fail', async () => {
    const broken = await openSqliteControlStore({
      dataDir: mkdtempSync(join(tmpdir(), 'hs-events-broken-')),
      secrets: new SecretBox(randomBytes(32)),
    });
    const errors: string[] = [];
    const watch = new RunWatch({ store: broken, intervalMs: 10, onError: (message) => errors.push(message) });
    const stop = watch.subscribe(
      null,
      () => undefined,
      () => undefined,
    );
    await broken.close();
    await until(async () => (errors.length > 0 ? true : undefined), 'a failed check');
    // twenty more failed checks at least
    await new Promise((resolve) => setTimeout(resolve, 200));
    stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toMatch(/\n\s+at /);
  });

  it('ends every stream when the server stops (the watch closes)', async () => {
    const received = await slowly(300, async () => {
      const run = await scheduler.runNow(pipeline.id);
      const response = await fetch(`${server.url}/api/runs/${run.id}/events`, { headers: bearer() });
      const reading = readAll(response);
      await until(async () => (runWatch.listenerCount === 1 ? true : undefined), 'the listener');
      runWatch.close();
      return reading;
    });
    expect(received[0].event).toBe('run');
    expect(received.some((r) => r.event === 'end')).toBe(false);
    expect(runWatch.listenerCount).toBe(0);
    await scheduler.wait(pipeline.id);
  });
});
