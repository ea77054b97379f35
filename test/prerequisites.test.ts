import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MYSQL_URL, PG_URL } from './support/databases.js';
import { checkMysql, checkPostgres, planChromium } from './support/prerequisites.js';

/*
 * The suite's own prerequisites (test/support/global-setup.ts): one line per problem, no stack trace,
 * a non-zero exit before any test; a missing test database is created, a missing chromium installed
 * where the test command may (root with apt-get).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const suffix = `${process.pid}_${Date.now() % 100_000}`;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.href;
}

describe('chromium', () => {
  const base = { path: '/usr/bin/chromium', chosen: false, present: false, canInstall: false };
  it('is left alone when present', () => {
    expect(planChromium({ ...base, present: true })).toEqual({ action: 'none' });
  });
  it('is installed from Debian when missing and the test command may install it', () => {
    expect(planChromium({ ...base, canInstall: true })).toEqual({ action: 'install' });
  });
  it('stops the run with how to get it when it may not', () => {
    const plan = planChromium(base);
    expect(plan.action).toBe('stop');
    expect(plan).toMatchObject({ line: expect.stringContaining('apt-get install chromium') });
    expect(plan).toMatchObject({ line: expect.stringContaining('HARVEST_SYNC_CHROMIUM=') });
  });
  it('never replaces a path the user chose', () => {
    const plan = planChromium({ ...base, path: '/opt/x/chrome', chosen: true, canInstall: true });
    expect(plan).toEqual({ action: 'stop', line: expect.stringContaining('/opt/x/chrome') });
  });
});

describe('database servers', () => {
  const pgName = `prereq_${suffix}`;
  const myName = `prereq_${suffix}`;
  afterAll(async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop database if exists ${pgName}`);
    await client.end();
    const connection = await mysql.createConnection({ uri: MYSQL_URL });
    await connection.query(`drop database if exists ${myName}`);
    await connection.end();
  });

  it('say nothing when they answer', async () => {
    expect(await checkPostgres(PG_URL)).toEqual([]);
    expect(await checkMysql(MYSQL_URL)).toEqual([]);
  });

  it('give one line naming the variable when nothing answers, passwords hidden', async () => {
    const [pgLine] = await checkPostgres('postgres://postgres:hunter2@127.0.0.1:1/x');
    expect(pgLine.kind).toBe('problem');
    expect(pgLine.line).toMatch(
      /^PostgreSQL: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x \(.*ECONNREFUSED/,
    );
    expect(pgLine.line).toContain('HARVEST_SYNC_TEST_PG_URL=');
    expect(pgLine.line).not.toContain('hunter2');
    const [myLine] = await checkMysql('mysql://root:hunter2@127.0.0.1:1/x');
    expect(myLine.line).toMatch(/^MySQL\/MariaDB: cannot connect to .*HARVEST_SYNC_TEST_MYSQL_URL=/);
    expect(myLine.line).not.toContain('hunter2');
    expect([pgLine.line, myLine.line].every((l) => !l.includes('\n'))).toBe(true);
  });

  it('create the test database when the server answers without it', async () => {
    const pgUrl = withDatabase(PG_URL, pgName);
    expect(await checkPostgres(pgUrl)).toEqual([
      { kind: 'note', line: expect.stringContaining(`"${pgName}"`) },
    ]);
    expect(await checkPostgres(pgUrl)).toEqual([]);
    const myUrl = withDatabase(MYSQL_URL, myName);
    expect(await checkMysql(myUrl)).toEqual([{ kind: 'note', line: expect.stringContaining(`"${myName}"`) }]);
    expect(await checkMysql(myUrl)).toEqual([]);
  });
});

describe('npm test without its prerequisites', () => {
  it('stops before any test with one line per problem, exit 1, no stack trace', () => {
    const run = spawnSync(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', 'test/standalone.test.ts'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          NO_COLOR: '1',
          HARVEST_SYNC_CHROMIUM: '/nonexistent/chromium',
          HARVEST_SYNC_TEST_PG_URL: 'postgres://postgres@127.0.0.1:1/test',
          HARVEST_SYNC_TEST_MYSQL_URL: 'mysql://root@127.0.0.1:1/test',
        },
      },
    );
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^chromium: HARVEST_SYNC_CHROMIUM names \/nonexistent\/chromium/),
      expect.stringMatching(/^PostgreSQL: cannot connect to .*HARVEST_SYNC_TEST_PG_URL=/),
      expect.stringMatching(/^MySQL\/MariaDB: cannot connect to .*HARVEST_SYNC_TEST_MYSQL_URL=/),
      'the tests cannot run until the lines above are dealt with',
    ]);
    expect(run.stdout).not.toMatch(/\bat .*:\d+:\d+/);
    expect(run.stdout).not.toContain('passed');
  });
});
