import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockName } from '../../src/destinations/mysql/mysql-lock.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { adminConnection, databaseUrl, dropDatabase, uniqueDatabase } from '../destinations/mysql-support.js';
import { STACK_LINE } from './cli-helpers.js';
import { runInto } from './replica-helpers.js';

/* harvest-sync run into MySQL/MariaDB as a user with a password (the comparison with SQLite: run-servers.test.ts). */

let sim: Simulator;
const database = `${uniqueDatabase()}_pw`;

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.01, seed: 11, rateLimit: null });
});
afterAll(async () => {
  await sim.stop();
  await dropDatabase(database);
});

const run = (destination: string, ...args: string[]) => runInto(sim, destination, ...args);

describe('harvest-sync run into MySQL/MariaDB', () => {
  it('never shows the password of a password-protected user, whether the run succeeds or fails', async () => {
    const user = `hs_${database.slice(-15, -3)}`;
    const password = 'S3cret-p@ss/word:x';
    const admin = await adminConnection();
    try {
      await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
      await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [user, '%']);
      const url = new URL(databaseUrl(database));
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
        const lock = lockName(database, 'run');
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
      await admin.end();
    }
  });
});
