import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { pipelineDestinations } from '../../src/control/destination-scope.js';
import { destinationScope } from '../../src/control/open.js';
import { runPipeline } from '../../src/control/pipeline-runner.js';
import { openDestination } from '../../src/destinations/index.js';
import { connectMysql } from '../../src/destinations/mysql/mysql-connection.js';
import { parseMysqlUrl } from '../../src/destinations/mysql/mysql-url.js';
import { parsePostgresUrl } from '../../src/destinations/postgres/postgres-url.js';
import { testDestination } from '../../src/server/destination-test.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { runCliProcess } from './support/cli-process.js';
import { appHarness, request } from './support/security.js';
import type { AppHarness } from './support/security.js';

/*
 * Issue 15, "SQLite destination anywhere" and "PostgreSQL URL parameters passed straight to the
 * driver": a saved pipeline's destination comes from anyone holding an API token, and the daemon
 * writes it as whoever started it. SQLite files are now confined to a root (the data directory, or
 * --sqlite-root), never the control store's own files nor an existing file that is not a database,
 * with nothing created beside a refused path; the destination test says the same of every path
 * outside the root, there or not. Server URLs carry only the parameters on an allow-list, and name a
 * server, never a local socket; a MySQL session never offers the server a file of this machine.
 */

const TOKEN = 'harvest.pt.SECRET-destination-test-0042';

let sim: Simulator;
let outside: string;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.01, adminToken: TOKEN, rateLimit: null });
});
afterAll(async () => {
  await sim?.stop();
});
beforeEach(() => {
  outside = mkdtempSync(join(tmpdir(), 'hs-outside-'));
});
afterEach(() => rmSync(outside, { recursive: true, force: true }));

const pipeline = (destination: string) => ({
  name: 'acme',
  token: TOKEN,
  accountId: sim.accountId,
  baseUrl: 'https://api.harvestapp.com',
  destination,
  objects: ['clients'],
});

const tablesOf = (path: string): string[] => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  } finally {
    db.close();
  }
};

describe('a saved SQLite destination', () => {
  let h: AppHarness;
  beforeEach(async () => {
    h = await appHarness();
  });
  afterEach(() => h.close());
  const admin = () => ({ authorization: `Bearer ${h.apiToken}` });
  const create = (destination: string) =>
    request(h, '/api/pipelines', { method: 'POST', json: pipeline(destination), headers: admin() });

  it('is refused on save outside the data directory, through a link, or as the control store', async () => {
    mkdirSync(join(h.dataDir, 'sub'));
    symlinkSync(outside, join(h.dataDir, 'escape'));
    const refused: Array<[string, RegExp]> = [
      [`sqlite:${join(outside, 'x.db')}`, /must be inside/],
      ['sqlite:/etc/harvest.db', /must be inside/],
      ['sqlite:escape/x.db', /must be inside/],
      ['sqlite:control.db', /harvest-sync's own file/],
      ['sqlite:secret.key', /harvest-sync's own file/],
      ['sqlite:credentials.json', /harvest-sync's own file/],
      ['sqlite:acme.db-wal', /beside a database/],
      ['sqlite:acme.db.lock', /beside a database/],
    ];
    for (const [destination, message] of refused) {
      const res = await create(destination);
      expect(res.status, destination).toBe(400);
      expect(res.body.error.fields.destination, destination).toMatch(message);
      expect(res.text).not.toMatch(/\n\s+at /);
    }
    expect(await h.store.listPipelines()).toEqual([]);
    // inside the root: relative, in a subdirectory, or absolute
    for (const [i, destination] of [
      'sqlite:acme.db',
      'sqlite:sub/b.db',
      `sqlite:${join(h.dataDir, 'c.db')}`,
      'sqlite:..dotted.db',
    ].entries()) {
      const res = await request(h, '/api/pipelines', {
        method: 'POST',
        json: { ...pipeline(destination), name: `ok-${i}` },
        headers: admin(),
      });
      expect(res.status, destination).toBe(201);
    }
    const moved = await request(h, '/api/pipelines/ok-0', {
      method: 'PATCH',
      json: { destination: `sqlite:${join(outside, 'x.db')}` },
      headers: admin(),
    });
    expect(moved.status).toBe(400);
    expect(moved.body.error.fields.destination).toMatch(/must be inside/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('saved before the rule (or in the store by hand) fails its run and writes nothing outside', async () => {
    const target = join(outside, 'x.db');
    const controlDb = join(h.dataDir, 'control.db');
    const before = tablesOf(controlDb);
    for (const [name, destination] of [
      ['outside', `sqlite:${target}`],
      ['control', 'sqlite:control.db'],
    ]) {
      const saved = await h.store.createPipeline({
        ...pipeline(destination),
        name,
        baseUrl: sim.url,
        frequencyHours: 1,
        since: null,
        fullRefreshHours: 24,
        enabled: true,
      });
      const run = await runPipeline(h.store, saved.id, {
        trigger: 'manual',
        dataDir: h.dataDir,
        baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }),
      });
      expect(run.status, name).toBe('failed');
      expect(run.error, name).toMatch(/must be inside|harvest-sync's own file/);
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(tablesOf(controlDb)).toEqual(before);
  });
});

describe('an existing file that is not a SQLite database', () => {
  it('is refused before anything is created beside it, by runs and the one-shot run alike', async () => {
    const notes = join(outside, 'notes.db');
    writeFileSync(notes, 'my notes, not a database\n');
    const destination = openDestination(`sqlite:${notes}`);
    await expect(destination.open()).rejects.toThrow(/exists and is not a SQLite database/);
    await destination.close();
    expect(readdirSync(outside)).toEqual(['notes.db']);
    expect(readFileSync(notes, 'utf8')).toBe('my notes, not a database\n');
    const scope = pipelineDestinations(outside);
    const tested = await testDestination('sqlite:notes.db', scope);
    expect(tested).toMatchObject({ ok: false, kind: 'sqlite' });
    expect(tested.message).toMatch(/not a SQLite database/);
    expect(readdirSync(outside)).toEqual(['notes.db']);
  });
});

describe('the destination test', () => {
  it('tells nothing of what exists outside the root', async () => {
    writeFileSync(join(outside, 'real.db'), '');
    const scope = pipelineDestinations(mkdtempSync(join(tmpdir(), 'hs-root-')));
    try {
      const answers = await Promise.all(
        [
          join(outside, 'real.db'),
          join(outside, 'missing.db'),
          join(outside, 'no', 'such', 'dir', 'x.db'),
          '/etc/passwd',
          '/proc/self/environ',
        ].map((path) => testDestination(`sqlite:${path}`, scope)),
      );
      for (const answer of answers) expect(answer.ok).toBe(false);
      expect(new Set(answers.map((a) => a.message)).size).toBe(1);
      expect(answers[0].message).toMatch(/must be inside/);
    } finally {
      rmSync(scope.root ?? '', { recursive: true, force: true });
    }
  });

  it('follows --sqlite-root: relative paths go there, the data directory is then outside', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hs-data-'));
    try {
      const scope = pipelineDestinations(dataDir, outside);
      const relative = await testDestination('sqlite:x.db', scope);
      expect(relative.ok).toBe(true);
      expect(relative.message).toContain(join(outside, 'x.db'));
      expect((await testDestination(`sqlite:${join(dataDir, 'x.db')}`, scope)).message).toMatch(
        /must be inside/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the SQLite root', () => {
  it('comes from --sqlite-root, else HARVEST_SYNC_SQLITE_ROOT, else the data directory; an empty or too long one is refused', () => {
    const env = { HARVEST_SYNC_SQLITE_ROOT: outside };
    expect(destinationScope('/data', { env: {} }).root).toBe('/data');
    expect(destinationScope('/data', { env }).root).toBe(outside);
    expect(destinationScope('/data', { env, sqliteRoot: '/flag' }).root).toBe('/flag');
    // the control store's files stay reserved wherever the root is
    expect(destinationScope('/data', { env }).reserved).toContain('/data/control.db');
    for (const bad of ['', ' ', `/${'a'.repeat(300)}`])
      expect(() => destinationScope('/data', { env: {}, sqliteRoot: bad })).toThrow(/^the SQLite root /);
  });
});

describe('the CLI', () => {
  it('pipelines create refuses a SQLite path outside the root, and --sqlite-root moves the root', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hs-dest-cli-'));
    try {
      const args = (destination: string) => [
        'pipelines',
        'create',
        '--name',
        'acme',
        '--token',
        TOKEN,
        '--account-id',
        sim.accountId,
        '--destination',
        destination,
        '--objects',
        'clients',
        '--skip-test',
        '--data-dir',
        dataDir,
      ];
      const refused = await runCliProcess(args(`sqlite:${join(outside, 'x.db')}`), { timeoutMs: 30_000 });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/must be inside/);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      const allowed = await runCliProcess(
        [...args(`sqlite:${join(outside, 'x.db')}`), '--sqlite-root', outside],
        {
          timeoutMs: 30_000,
        },
      );
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(existsSync(join(outside, 'x.db'))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL URL parameters', () => {
  it.each([
    ['sslrootcert=/etc/passwd', 'sslrootcert'],
    ['sslkey=~/.ssh/id_rsa', 'sslkey'],
    ['host=/var/run/postgresql', 'host'],
    ['options=-c%20statement_timeout%3D1', 'options'],
    ['password=hunter2', 'password'],
    ['replication=database', 'replication'],
  ])('refuses ?%s with one line naming the parameter', (query, name) => {
    const url = `postgres://sync:pw@db.example/warehouse?${query}`;
    expect(() => parsePostgresUrl(url)).toThrow(
      `unsupported PostgreSQL URL parameter "${name}" (supported: schema, sslmode, application_name, connect_timeout)`,
    );
  });

  it('refuses a local socket as host, and bad values of the allowed parameters', () => {
    for (const url of [
      'postgres://sync@%2Fvar%2Frun%2Fpostgresql/warehouse',
      'postgres://sync@db.example/warehouse?sslmode=allow-anything',
      'postgres://sync@db.example/warehouse?connect_timeout=soon',
      'postgres://sync@db.example/warehouse?sslmode=disable&sslmode=require',
    ])
      expect(() => parsePostgresUrl(url), url).toThrow(/^invalid PostgreSQL URL: [^\n]+$/);
  });

  it('keeps the allowed ones, and the API refuses the others on save with the same message', async () => {
    const base = new URL(PG_URL);
    base.search = '';
    const allowed = `${base}?schema=hs_params&sslmode=disable&application_name=ok&connect_timeout=5`;
    expect(parsePostgresUrl(allowed).connectionString).toContain('connect_timeout=5');
    const tested = await testDestination(allowed, pipelineDestinations(outside));
    expect(tested, tested.message).toMatchObject({ ok: true, kind: 'postgres' });
    const h = await appHarness();
    try {
      const res = await request(h, '/api/pipelines', {
        method: 'POST',
        json: pipeline(`${base}?sslrootcert=/etc/passwd`),
        headers: { authorization: `Bearer ${h.apiToken}` },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.fields.destination).toMatch(/unsupported PostgreSQL URL parameter "sslrootcert"/);
    } finally {
      await h.close();
    }
  });
});

describe('MySQL URLs and sessions', () => {
  it.each([
    'localInfile=true',
    'socketPath=/var/run/mysqld/mysqld.sock',
    'flags=LOCAL_FILES',
    'charset=latin1',
  ])('refuses ?%s', (query) => {
    expect(() => parseMysqlUrl(`mysql://root@db.example/harvest?${query}`)).toThrow(
      /^unsupported MySQL URL parameter "[a-zA-Z]+" \(supported: ssl=true\|false\|no-verify\)$/,
    );
  });

  it('refuses a local socket as host', () => {
    expect(() => parseMysqlUrl('mysql://root@%2Fvar%2Frun%2Fmysqld.sock/harvest')).toThrow(/not a path/);
  });

  it('never offers the server a local file: LOAD DATA LOCAL is refused by the session itself', async () => {
    const target = parseMysqlUrl(MYSQL_URL);
    const connection = await connectMysql(target, { connectTimeoutMs: 5000, noDatabase: true });
    try {
      await connection.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\``);
      const table = `\`${target.database}\`.hs_infile_probe`;
      await connection.query(`CREATE TABLE IF NOT EXISTS ${table} (line TEXT)`);
      // the client did not offer the capability: the server refuses before asking for any file
      await expect(
        connection.query(`LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE ${table}`),
      ).rejects.toThrow(/disabled the local infile capability|command is not allowed/i);
      await connection.query(`DROP TABLE ${table}`);
    } finally {
      await connection.end();
    }
  });
});
