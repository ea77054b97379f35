import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { Destination, ObjectState } from '../../src/destinations/destination.js';
import { PostgresDestination } from '../../src/destinations/postgres/postgres-destination.js';
import { SqliteDestination } from '../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runSync } from '../../src/sync/engine.js';
import type { SyncResult } from '../../src/sync/types.js';
import { runCli, STACK_LINE } from '../cli/cli-helpers.js';
import type { CliResult } from '../cli/cli-helpers.js';
import { adminClient, dropSchema, schemaUrl, uniqueSchema } from '../destinations/postgres-support.js';
import { RecordingDestination } from './support/recording.js';
import { lineId, snapshot, snapshotDiff } from './support/snapshot.js';
import type { Snapshot } from './support/snapshot.js';
import { clientFor } from './support/world.js';
import { TestClock } from '../support/clock.js';

/**
 * Destination faults: unreachable at start, the PostgreSQL connection dropped mid-run, a full disk,
 * a read-only file. Each gives a clear one-line error, leaves nothing half-written (tables and state
 * as the last committed batch left them), and the next run, with the fault gone, ends exact — equal
 * byte for byte to a run that never met the fault (the simulator's clock stands still, so even the
 * cursors match).
 */

const PER_PAGE = 5;
let sim: Simulator;
let dir: string;
let sqliteReference: Snapshot;
let postgresReference: Snapshot;
const schemas: string[] = [];

async function sync(destination: Destination, signal?: AbortSignal): Promise<SyncResult> {
  await destination.open();
  try {
    return await runSync({
      source: clientFor(sim),
      destination,
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
      signal,
    });
  } finally {
    await destination.close();
  }
}

function pgSchema(): string {
  const schema = uniqueSchema('hs_destfault');
  schemas.push(schema);
  return schema;
}

function cli(destination: string): Promise<CliResult> {
  return runCli(['run', '--destination', destination, '--rate-limit', '10000/1'], {
    HARVEST_ACCESS_TOKEN: sim.adminToken,
    HARVEST_ACCOUNT_ID: sim.accountId,
    HARVEST_BASE_URL: sim.url,
  });
}

/** A failed CLI run: exit 1, one error line naming the problem, no stack, nothing read from Harvest. */
function expectClearFailure(result: CliResult, message: RegExp): void {
  expect(result.code).toBe(1);
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  expect(result.stderr).not.toMatch(STACK_LINE);
  expect(result.stderr + result.stdout).not.toContain(sim.adminToken);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = await adminClient();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

async function states(destination: Destination): Promise<Map<string, ObjectState | null>> {
  await destination.open();
  try {
    const out = new Map<string, ObjectState | null>();
    for (const spec of DEFAULT_OBJECTS) out.set(spec.name, await destination.readState(spec.name));
    return out;
  } finally {
    await destination.close();
  }
}

/**
 * Nothing half-written after a run that failed on a fresh destination: each object's state is its
 * last committed batch's, and every row was written by a committed batch.
 */
async function expectOnlyCommitted(
  url: string,
  reopen: () => Destination,
  recorder: RecordingDestination,
): Promise<void> {
  const saved = await states(reopen());
  for (const spec of DEFAULT_OBJECTS)
    expect(saved.get(spec.name) ?? null, spec.name).toEqual(recorder.lastState.get(spec.name) ?? null);
  const now = await snapshot(url);
  let rows = 0;
  for (const [table, lines] of Object.entries(now.tables)) {
    const written = recorder.writtenIds.get(table) ?? new Set<string>();
    for (const line of lines.slice(1))
      expect(written.has(lineId(line)), `${table} row ${lineId(line)}`).toBe(true);
    rows += lines.length - 1;
  }
  expect(rows).toBeGreaterThan(0);
}

beforeAll(async () => {
  sim = await startSimulator({
    seed: 9,
    scale: 0.02,
    rateLimit: null,
    clock: new TestClock({ start: Date.parse('2026-04-01T10:00:00Z'), sleeps: 'ignore' }),
  });
  dir = mkdtempSync(join(tmpdir(), 'hs-destfault-'));
  const path = join(dir, 'reference.db');
  expect((await sync(new SqliteDestination(path))).status).toBe('succeeded');
  sqliteReference = await snapshot(`sqlite:${path}`);
  const schema = pgSchema();
  expect((await sync(new PostgresDestination(schemaUrl(schema)))).status).toBe('succeeded');
  postgresReference = await snapshot(schemaUrl(schema));
});
afterAll(async () => {
  await sim?.stop();
  for (const schema of schemas) await dropSchema(schema).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('destination unreachable at start', () => {
  it('PostgreSQL unreachable at start (closed port): one error line naming host and port without the password, nothing read or written, next run exact', async () => {
    const schema = pgSchema();
    const url = new URL(schemaUrl(schema));
    const good = url.toString();
    url.port = String(await closedPort());
    url.password = 'hunter2-secret';
    sim.resetCounters();
    const failed = await cli(url.toString());
    expectClearFailure(
      failed,
      /cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ \(database "\w+", user "postgres"\)/,
    );
    expect(failed.stderr).not.toContain('hunter2-secret');
    expect(sim.counters.total).toBe(0);
    expect(await schemaExists(schema)).toBe(false);

    const next = await cli(good);
    expect(next.code).toBe(0);
    expect(snapshotDiff(await snapshot(good), postgresReference)).toBeNull();
  });

  it('SQLite in a missing directory: one error line naming the directory, nothing created or read, next run exact', async () => {
    const missing = join(dir, 'no', 'such');
    const path = join(missing, 'harvest.db');
    sim.resetCounters();
    expectClearFailure(await cli(`sqlite:${path}`), /directory .*no\/such does not exist/);
    expect(sim.counters.total).toBe(0);
    expect(existsSync(join(dir, 'no'))).toBe(false);

    mkdirSync(missing, { recursive: true });
    const next = await cli(`sqlite:${path}`);
    expect(next.code).toBe(0);
    expect(snapshotDiff(await snapshot(`sqlite:${path}`), sqliteReference)).toBeNull();
  });
});

describe('PostgreSQL connection dropped mid-run', () => {
  it('PostgreSQL connection dropped mid-run (pg_terminate_backend of the run): failed run saying the connection was lost, tables and state as the last committed batch left them, next run exact', async () => {
    const schema = pgSchema();
    const url = schemaUrl(schema);
    const admin = await adminClient();
    // Pages come slowly, so the run is between (or in) batches when its backend is terminated.
    sim.setFaults({ slowRate: 1, slowMs: 40 });
    try {
      const recorder = new RecordingDestination(new PostgresDestination(url));
      let terminated: Promise<number> | undefined;
      const write = recorder.writeBatch.bind(recorder);
      recorder.writeBatch = async (batch) => {
        const out = await write(batch);
        // The run's own backend, found by the advisory run lock it holds on this schema.
        terminated ??=
          recorder.committed >= 6
            ? admin
                .query(
                  `SELECT pg_terminate_backend(pid) FROM pg_locks
                   WHERE locktype = 'advisory' AND classid = (hashtext('harvest-sync')::bigint & 4294967295)::oid
                     AND objid = (hashtext($1)::bigint & 4294967295)::oid`,
                  [schema],
                )
                .then((r) => r.rowCount ?? 0)
            : undefined;
        return out;
      };
      const started = performance.now();
      const result = await sync(recorder);
      expect(performance.now() - started).toBeLessThan(20_000);
      expect(await terminated).toBe(1);
      expect(result.status).toBe('failed');
      // as the driver saw it: the server's notice of termination, or the broken socket, on
      // whatever the run asked next (a batch, or the table of the next object)
      expect(result.error).toMatch(
        /: cannot (write \w+ to|create table "\w+" in|read the state of \w+ from) postgres:\/\/\S+: (the server terminated the connection|the connection was lost) \(|lost the connection to postgres/,
      );
      expect(result.error).not.toContain('\n');
      expect(recorder.failed).toBeGreaterThanOrEqual(1);
      await expectOnlyCommitted(url, () => new PostgresDestination(url), recorder);
    } finally {
      sim.setFaults(null);
      await admin.end();
    }
    expect((await sync(new PostgresDestination(url))).status).toBe('succeeded');
    expect(snapshotDiff(await snapshot(url), postgresReference)).toBeNull();
  });
});

describe('SQLite disk full and read-only', () => {
  it('SQLite disk full (max_page_count at 60% of the data): failed run saying the disk is full, only committed batches kept, integrity ok, next run with room exact', async () => {
    const path = join(dir, 'full.db');
    const reference = new Database(join(dir, 'reference.db'), { readonly: true });
    const pages = reference.pragma('page_count', { simple: true }) as number;
    reference.close();
    const recorder = new RecordingDestination(
      new SqliteDestination(path, { maxPageCount: Math.floor(pages * 0.6) }),
    );
    const result = await sync(recorder);
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/the disk \(or the database size limit\) is full/);
    expect(recorder.committed).toBeGreaterThan(0);
    await expectOnlyCommitted(`sqlite:${path}`, () => new SqliteDestination(path), recorder);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    expect((await sync(new SqliteDestination(path))).status).toBe('succeeded');
    expect(snapshotDiff(await snapshot(`sqlite:${path}`), sqliteReference)).toBeNull();
  });

  it('SQLite read-only file (chattr +i, as chmod does not stop root) after an interrupted run: one error line, file bytes unchanged, writable again the run finishes exact', async () => {
    // Half a run first, so there is committed state to keep.
    const path = join(dir, 'readonly.db');
    const controller = new AbortController();
    const half = await runSync({
      source: clientFor(sim),
      destination: await opened(new SqliteDestination(path)),
      objects: DEFAULT_OBJECTS,
      perPage: PER_PAGE,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'object:page' && event.pages === 3) controller.abort();
      },
    }).finally(() => lastOpened?.close());
    expect(half.status).toBe('interrupted');

    const before = digest(path);
    setReadOnly(path, true);
    try {
      // chmod 0444 does not stop root; the immutable attribute does (and plain chmod does for others)
      expect(() => closeSync(openSync(path, 'r+'))).toThrow();
      expectClearFailure(
        await cli(`sqlite:${path}`),
        /cannot open SQLite database at .*readonly\.db: the file is read-only/,
      );
    } finally {
      setReadOnly(path, false);
    }
    expect(digest(path)).toBe(before);
    const next = await cli(`sqlite:${path}`);
    expect(next.code).toBe(0);
    expect(snapshotDiff(await snapshot(`sqlite:${path}`), sqliteReference)).toBeNull();
  });
});

let lastOpened: Destination | undefined;
async function opened(destination: Destination): Promise<Destination> {
  await destination.open();
  lastOpened = destination;
  return destination;
}

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function setReadOnly(path: string, on: boolean): void {
  if (process.getuid?.() === 0) execFileSync('chattr', [on ? '+i' : '-i', path]);
  else execFileSync('chmod', [on ? '0444' : '0644', path]);
}
