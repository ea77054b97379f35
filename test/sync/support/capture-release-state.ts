/**
 * Writes test/fixtures/state/<name>.db and <name>.state.json: a SQLite replica left by an
 * interrupted full refresh of time entries read as date windows, by the engine as it is when this
 * runs, and its `_harvest_sync_state` row. Run once per release whose state a later one must resume
 * (`npx tsx test/sync/support/capture-release-state.ts <name>`): the files then stand for what that
 * release wrote, and test/sync/release-state.test.ts resumes from them. Never regenerate a fixture.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findObject } from '../../../src/catalog/objects.js';
import type { ObjectSpec } from '../../../src/catalog/types.js';
import { releaseSource } from './release-source.js';
import { syncSqlite, tempDir } from './sqlite-helpers.js';

const OUT = fileURLToPath(new URL('../../fixtures/state/', import.meta.url));
const NAME = process.argv[2] ?? 'interrupted-refresh';
const timeEntries = findObject('time_entries') as ObjectSpec;

const { dir, cleanup } = tempDir();
try {
  const db = join(dir, 'replica.db');
  const source = releaseSource();
  await syncSqlite(db, source, { objects: [timeEntries], perPage: 5, concurrency: 4 });
  source.time += 60_000;
  source.remove('time_entries', 7); // gone since the first load: the refresh must mark it
  const controller = new AbortController();
  const { result } = await syncSqlite(db, source, {
    objects: [timeEntries],
    perPage: 5,
    concurrency: 4,
    fullRefresh: true,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === 'object:page' && e.pages === 10) controller.abort();
    },
  });
  if (result.objects[0].status !== 'interrupted') throw new Error('the refresh was not interrupted');
  const handle = new Database(db);
  handle.pragma('wal_checkpoint(TRUNCATE)');
  const row = handle.prepare('SELECT * FROM _harvest_sync_state').get() as Record<string, unknown>;
  handle.close();
  mkdirSync(OUT, { recursive: true });
  copyFileSync(db, join(OUT, `${NAME}.db`));
  writeFileSync(join(OUT, `${NAME}.state.json`), `${JSON.stringify(row, null, 2)}\n`);
  process.stdout.write(`wrote ${OUT}\n`);
} finally {
  cleanup();
}
