import { afterEach, beforeEach, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { simulatorClient } from './support/simulator-helpers.js';
import { readTable, syncSqlite, tempDir } from './support/sqlite-helpers.js';

const CHILD = fileURLToPath(new URL('./support/sync-child.ts', import.meta.url));
const PER_PAGE = 5;
/** Pages the child writes before it is killed: a small part of the ~80 the run needs. */
const KILL_AFTER_PAGES = 12;

let sim: Simulator;
let dir: string;
let cleanup: () => void;

beforeEach(async () => {
  // two replicas read at different moments are compared: running timers held still
  // (their growth without updated_at is test/simulator/replica.test.ts's subject)
  sim = await startSimulator({ scale: 0.02, rateLimit: null, timersGrow: false });
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await sim.stop();
  cleanup();
});

function dataTables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name`,
      )
      .all() as Array<{ name: string }>;
    return rows.map((r) => r.name);
  } finally {
    db.close();
  }
}

it('a run killed with SIGKILL mid-write resumes and ends with exactly the tables of an uninterrupted run', async () => {
  const killed = join(dir, 'killed.db');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, sim.url, sim.adminToken, sim.accountId, killed, String(PER_PAGE)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  let pages = 0;
  let finished = false;
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line) as { page?: string; done?: string };
    if (message.done) finished = true;
    if (message.page && ++pages === KILL_AFTER_PAGES) child.kill('SIGKILL');
  }
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  expect(stderr).toBe('');
  expect({ code, signal, finished }).toEqual({ code: null, signal: 'SIGKILL', finished: false });

  const resumed = await syncSqlite(killed, simulatorClient(sim), {
    objects: DEFAULT_OBJECTS,
    perPage: PER_PAGE,
  });
  expect(resumed.result.status).toBe('succeeded');
  expect(resumed.events.some((e) => e.type === 'object:start' && e.resumed)).toBe(true);

  const clean = join(dir, 'clean.db');
  const reference = await syncSqlite(clean, simulatorClient(sim), {
    objects: DEFAULT_OBJECTS,
    perPage: PER_PAGE,
  });
  expect(reference.result.status).toBe('succeeded');

  const tables = dataTables(clean);
  expect(dataTables(killed)).toEqual(tables);
  expect(tables.length).toBe(DEFAULT_OBJECTS.reduce((n, o) => n + 1 + o.children.length, 0));
  for (const table of tables) {
    const expected = readTable(clean, table);
    expect(expected.length, table).toBeGreaterThan(0);
    expect(readTable(killed, table), table).toEqual(expected);
  }
});
