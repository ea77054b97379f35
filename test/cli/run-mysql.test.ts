import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockName } from '../../src/destinations/mysql/mysql-lock.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { adminConnection, databaseUrl, dropDatabase, uniqueDatabase } from '../destinations/mysql-support.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { STACK_LINE } from './cli-helpers.js';
import { replicaSnapshot, runInto } from './replica-helpers.js';

/*
 * The same account replicated by the real CLI into MariaDB and into SQLite must hold the same
 * values, column by column (see replica-helpers.ts for how each engine's values are normalised).
 */

let sim: Simulator;
let dir: { dir: string; cleanup: () => void };
const database = uniqueDatabase();

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.05, seed: 11, rateLimit: null });
  dir = tempDir();
});
afterAll(async () => {
  await sim.stop();
  dir.cleanup();
  await dropDatabase(database);
});

const run = (destination: string, ...args: string[]) => runInto(sim, destination, ...args);

describe('harvest-sync run into MySQL/MariaDB', () => {
  it('loads, updates and marks deletions exactly as into SQLite', async () => {
    const mysqlUrl = databaseUrl(database).replace(/^mysql:/, 'mariadb:');
    const sqliteUrl = `sqlite:${join(dir.dir, 'same.db')}`;
    for (const destination of [mysqlUrl, sqliteUrl]) {
      const first = await run(destination, '--per-page', '40');
      expect(first.code, first.stderr).toBe(0);
    }
    // changes between runs: an edit, a new record, a deletion
    const entry = [...sim.records('time_entries')][2];
    sim.update('time_entries', entry.id as number, { hours: 0.1, notes: 'ünïcødé ✓ \'quoted\' "twice" 🎉' });
    sim.create('clients', { name: 'New client' });
    sim.remove('projects', [...sim.records('projects')][0].id as number);
    for (const destination of [mysqlUrl, sqliteUrl]) {
      const second = await run(destination, '--full-refresh');
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout + second.stderr).not.toMatch(STACK_LINE);
    }

    const connection = await adminConnection(database);
    const sqlite = new Database(join(dir.dir, 'same.db'), { readonly: true });
    try {
      const read = (table: string, columns: string[]) =>
        `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY "id"`;
      const fromMysql = await replicaSnapshot(async (table, columns) => {
        const [rows] = await connection.query(read(table, columns));
        return rows as Record<string, unknown>[];
      });
      const fromSqlite = await replicaSnapshot(
        async (table, columns) => sqlite.prepare(read(table, columns)).all() as Record<string, unknown>[],
      );
      for (const table of Object.keys(fromSqlite)) {
        expect(fromMysql[table].length, table).toBeGreaterThan(0);
        expect(fromMysql[table], table).toEqual(fromSqlite[table]);
      }
      const [edited] = await connection.query(`SELECT "hours", "notes" FROM "time_entries" WHERE "id" = ?`, [
        entry.id,
      ]);
      expect(edited).toEqual([{ hours: '0.10000000000000000000', notes: 'ünïcødé ✓ \'quoted\' "twice" 🎉' }]);
      const [deleted] = await connection.query(
        `SELECT COUNT(*) AS n FROM "projects" WHERE "_deleted_at" IS NOT NULL`,
      );
      expect(deleted).toEqual([{ n: 1 }]);
    } finally {
      sqlite.close();
      await connection.end();
    }
  });

  it('never shows the password of a password-protected user, whether the run succeeds or fails', async () => {
    const user = `hs_${database.slice(-12)}`;
    const password = 'S3cret-p@ss/word:x';
    const admin = await adminConnection();
    try {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${database}_pw\`.* TO ?@?`, [user, '%']);
      const url = new URL(databaseUrl(`${database}_pw`));
      url.username = user;
      url.password = encodeURIComponent(password);
      const wrong = new URL(url);
      wrong.password = 'Wr0ng-S3cret';
      const runs = [
        { url: url.toString(), code: 0 },
        { url: url.toString(), code: 1, error: /another run is writing to mysql:\/\/hs_/, busy: true },
        { url: wrong.toString(), code: 1, error: /access denied/ },
        {
          url: `${url.toString()}?charset=latin1`,
          code: 2,
          error: /unsupported MySQL URL parameter "charset"/,
        },
      ];
      for (const expected of runs) {
        const lock = lockName(`${database}_pw`, 'run');
        if (expected.busy) await admin.query('SELECT GET_LOCK(?, 0)', [lock]);
        const result = await run(expected.url, '--objects', 'clients,users');
        if (expected.busy) await admin.query('SELECT RELEASE_LOCK(?)', [lock]);
        const output = result.stdout + result.stderr;
        expect(result.code, output).toBe(expected.code);
        if (expected.error) expect(output).toMatch(expected.error);
        for (const secret of [password, encodeURIComponent(password), 'Wr0ng-S3cret', 'S3cret'])
          expect(output).not.toContain(secret);
        expect(output).not.toMatch(STACK_LINE);
      }
    } finally {
      await admin.query('DROP USER IF EXISTS ?@?', [user, '%']);
      await admin.query(`DROP DATABASE IF EXISTS \`${database}_pw\``);
      await admin.end();
    }
  });
});
