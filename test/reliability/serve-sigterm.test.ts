import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { PostgresDestination } from '../../src/destinations/postgres/postgres-destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runSync } from '../../src/sync/engine.js';
import { startCli } from '../cli/cli-helpers.js';
import { dropSchema, schemaUrl, uniqueSchema } from '../destinations/postgres-support.js';
import { snapshot, snapshotDiff } from './support/snapshot.js';
import { clientFor } from './support/world.js';
import { TestClock } from '../support/clock.js';
import { runState } from '../support/waiting.js';

interface RunView {
  readonly status: string;
  readonly objects: ReadonlyArray<{ readonly status: string }>;
}

/*
 * SIGTERM to a real `harvest-sync serve` (the built CLI) while a run writes to PostgreSQL: the
 * process exits 0, the run is recorded `interrupted`, and after a restart the next run leaves the
 * schema byte for byte as a run that was never stopped (test/server/serve.e2e.test.ts covers the
 * same on SQLite for an incremental run, by id and updated_at).
 */

const API_TOKEN = randomBytes(32).toString('base64url');
const ENV = {
  HARVEST_SYNC_API_TOKEN: API_TOKEN,
  HARVEST_SYNC_ADMIN_PASSWORD: `reliability ${randomBytes(6).toString('hex')}`,
};

let sim: Simulator;
let dataDir: string;
const schemas: string[] = [];
const children: ChildProcess[] = [];

interface Serve {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startServe(): Promise<Serve> {
  const child = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--allow-base-url', sim.url], ENV);
  children.push(child);
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'harvest-sync serve listening' && entry.url) {
      child.stdout!.resume();
      return { url: entry.url, child };
    }
  }
  throw new Error('serve exited before listening');
}

/** A run of that serve process, for runState. */
const runTarget = (serve: Serve, runId: number) => ({
  url: serve.url,
  runId,
  headers: { authorization: `Bearer ${API_TOKEN}` },
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API bodies are read freely here
async function api(serve: Serve, method: string, path: string, json?: unknown): Promise<any> {
  const res = await fetch(`${serve.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return res.json();
}

beforeAll(async () => {
  sim = await startSimulator({
    seed: 13,
    scale: 0.1,
    rateLimit: null,
    clock: new TestClock({ start: Date.parse('2026-06-01T12:00:00Z'), sleeps: 'ignore' }),
  });
  dataDir = mkdtempSync(join(tmpdir(), 'hs-serve-sigterm-'));
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sim?.stop();
  for (const schema of schemas) await dropSchema(schema).catch(() => undefined);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

it('SIGTERM to serve mid-run into PostgreSQL: exit 0, run interrupted, next run byte-for-byte exact', async () => {
  const referenceSchema = uniqueSchema('hs_serve_ref');
  const schema = uniqueSchema('hs_serve');
  schemas.push(referenceSchema, schema);
  const reference = new PostgresDestination(schemaUrl(referenceSchema));
  await reference.open();
  const clean = await runSync({
    source: clientFor(sim),
    destination: reference,
    objects: DEFAULT_OBJECTS,
  }).finally(() => reference.close());
  expect(clean.status).toBe('succeeded');

  const first = await startServe();
  const { pipeline } = await api(first, 'POST', '/api/pipelines', {
    name: 'sigterm',
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    destination: schemaUrl(schema),
    enabled: false,
  });
  expect(pipeline).toMatchObject({ name: 'sigterm', enabled: false });
  // slow answers, so the signal lands with some objects done and others mid-pass
  sim.setFaults({ slowRate: 1, slowMs: 150 });
  const { run } = await api(first, 'POST', `/api/pipelines/${pipeline.id}/run`);
  await runState<RunView>(runTarget(first, run.id as number), (r) =>
    r.objects.some((o) => o.status === 'succeeded'),
  );
  const exited = once(first.child, 'exit');
  first.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
  sim.setFaults(null);

  const again = await startServe();
  const stopped = (await api(again, 'GET', `/api/runs/${run.id}`)).run;
  expect(stopped.status).toBe('interrupted');
  expect(stopped.objects.some((o: { status: string }) => o.status === 'succeeded')).toBe(true);
  expect(stopped.objects.some((o: { status: string }) => o.status !== 'succeeded')).toBe(true);

  const next = (await api(again, 'POST', `/api/pipelines/${pipeline.id}/run`)).run;
  const finished = await runState<RunView>(runTarget(again, next.id as number));
  expect(finished.status).toBe('succeeded');
  expect(
    snapshotDiff(await snapshot(schemaUrl(schema)), await snapshot(schemaUrl(referenceSchema))),
  ).toBeNull();

  const exitedAgain = once(again.child, 'exit');
  again.child.kill('SIGTERM');
  expect(((await exitedAgain) as [number | null])[0]).toBe(0);
});
