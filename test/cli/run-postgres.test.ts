import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { adminClient, dropSchema, schemaUrl, uniqueSchema } from '../destinations/postgres-support.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { STACK_LINE } from './cli-helpers.js';
import { replicaSnapshot, runInto } from './replica-helpers.js';

/*
 * The same account replicated by the real CLI into PostgreSQL and into SQLite must hold the same
 * values, column by column, once each engine's representation is normalised (PostgreSQL numerics
 * and bigints come back as text, SQLite booleans as 0/1, timestamps in each engine's format).
 */

let sim: Simulator;
let dir: { dir: string; cleanup: () => void };
const schema = uniqueSchema('hs_cli');

beforeAll(async () => {
  // two replicas read at different moments are compared: running timers held still
  // (their growth without updated_at is test/simulator/replica.test.ts's subject)
  sim = await startSimulator({ scale: 0.05, seed: 11, rateLimit: null, timersGrow: false });
  dir = tempDir();
});
afterAll(async () => {
  await sim.stop();
  dir.cleanup();
  await dropSchema(schema);
});

const run = (destination: string, ...args: string[]) => runInto(sim, destination, ...args);

describe('harvest-sync run into PostgreSQL', () => {
  it('loads, updates and marks deletions exactly as into SQLite', async () => {
    const pgUrl = schemaUrl(schema);
    const sqliteUrl = `sqlite:${join(dir.dir, 'same.db')}`;
    for (const destination of [pgUrl, sqliteUrl]) {
      const first = await run(destination, '--per-page', '40');
      expect(first.code, first.stderr).toBe(0);
    }
    // changes between runs: an edit, a new record, a deletion
    const entry = [...sim.records('time_entries')][2];
    sim.update('time_entries', entry.id as number, { hours: 0.1, notes: 'ünïcødé ✓ \'quoted\' "twice"' });
    sim.create('clients', { name: 'New client' });
    sim.remove('projects', [...sim.records('projects')][0].id as number);
    for (const destination of [pgUrl, sqliteUrl]) {
      const second = await run(destination, '--full-refresh');
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout + second.stderr).not.toMatch(STACK_LINE);
    }

    const client = await adminClient(schema);
    const sqlite = new Database(join(dir.dir, 'same.db'), { readonly: true });
    try {
      const fromPostgres = await replicaSnapshot(async (table, columns) => {
        const list = columns.map((c) => `"${c}"`).join(', ');
        // numerics as text so that PostgreSQL's exact value is what gets compared
        const result = await client.query({
          text: `SELECT ${list} FROM "${table}" ORDER BY id`,
          types: textTypes,
        });
        return result.rows as Record<string, unknown>[];
      });
      const fromSqlite = await replicaSnapshot(async (table, columns) => {
        const list = columns.map((c) => `"${c}"`).join(', ');
        return sqlite.prepare(`SELECT ${list} FROM "${table}" ORDER BY id`).all() as Record<
          string,
          unknown
        >[];
      });
      for (const table of Object.keys(fromSqlite)) {
        expect(fromPostgres[table].length, table).toBeGreaterThan(0);
        expect(fromPostgres[table], table).toEqual(fromSqlite[table]);
      }
      const edited = await client.query(
        `SELECT hours::text AS hours, notes FROM time_entries WHERE id = $1`,
        [entry.id],
      );
      expect(edited.rows[0]).toEqual({ hours: '0.1', notes: 'ünïcødé ✓ \'quoted\' "twice"' });
      const deleted = await client.query(
        `SELECT count(*)::int AS n FROM projects WHERE _deleted_at IS NOT NULL`,
      );
      expect(deleted.rows[0].n).toBe(1);
    } finally {
      sqlite.close();
      await client.end();
    }
  });
});

/** Type parsers that leave every value as PostgreSQL's text, except booleans and json. */
const textTypes = {
  getTypeParser: (oid: number) => {
    if (oid === 16) return (v: string) => v === 't';
    return (v: string) => v;
  },
};
