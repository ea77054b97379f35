import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { SERVER_ENGINES } from '../destinations/server-engines.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { STACK_LINE } from './cli-helpers.js';
import { replicaSnapshot, runInto } from './replica-helpers.js';

/*
 * The same account replicated by the real CLI into PostgreSQL or MySQL/MariaDB and into SQLite must
 * hold the same values, column by column (see replica-helpers.ts for how each engine's values are
 * normalised).
 */

describe.each(SERVER_ENGINES)('harvest-sync run into $name', (engine) => {
  let sim: Simulator;
  let dir: { dir: string; cleanup: () => void };
  const place = engine.fresh();

  beforeAll(async () => {
    // two replicas read at different moments are compared: running timers held still
    // (their growth without updated_at is test/simulator/replica.test.ts's subject)
    sim = await startSimulator({ scale: 0.05, seed: 11, rateLimit: null, timersGrow: false });
    dir = tempDir();
  });
  afterAll(async () => {
    await sim.stop();
    dir.cleanup();
    await place.drop();
  });

  it('loads, updates and marks deletions exactly as into SQLite', async () => {
    const sqliteUrl = `sqlite:${join(dir.dir, 'same.db')}`;
    for (const destination of [place.url, sqliteUrl]) {
      const first = await runInto(sim, destination, '--per-page', '40');
      expect(first.code, first.stderr).toBe(0);
    }
    // changes between runs: an edit, a new record, a deletion
    const entry = [...sim.records('time_entries')][2];
    const notes = 'ünïcødé ✓ \'quoted\' "twice" 🎉';
    sim.update('time_entries', entry.id as number, { hours: 0.1, notes });
    sim.create('clients', { name: 'New client' });
    sim.remove('projects', [...sim.records('projects')][0].id as number);
    for (const destination of [place.url, sqliteUrl]) {
      const second = await runInto(sim, destination, '--full-refresh');
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout + second.stderr).not.toMatch(STACK_LINE);
    }

    const sqlite = new Database(join(dir.dir, 'same.db'), { readonly: true });
    try {
      const select = (table: string, columns: string[]) =>
        `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY "id"`;
      const fromServer = await replicaSnapshot((table, columns) =>
        engine.query(place.url, select(table, columns)),
      );
      const fromSqlite = await replicaSnapshot(
        async (table, columns) => sqlite.prepare(select(table, columns)).all() as Record<string, unknown>[],
      );
      for (const table of Object.keys(fromSqlite)) {
        expect(fromServer[table].length, table).toBeGreaterThan(0);
        expect(fromServer[table], table).toEqual(fromSqlite[table]);
      }
      const [edited] = await engine.query(
        place.url,
        `SELECT "hours", "notes" FROM "time_entries" WHERE "id" = ${Number(entry.id)}`,
      );
      expect([Number(edited.hours), edited.notes]).toEqual([0.1, notes]);
      const [deleted] = await engine.query(
        place.url,
        `SELECT COUNT(*) AS n FROM "projects" WHERE "_deleted_at" IS NOT NULL`,
      );
      expect(Number(deleted.n)).toBe(1);
    } finally {
      sqlite.close();
    }
  });
});
