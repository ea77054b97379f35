import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import type { Column, JsonObject } from '../../src/catalog/types.js';
import type { Batch, Destination } from '../../src/destinations/destination.js';
import { openDestination, parseDestinationUrl } from '../../src/destinations/index.js';
import { MysqlDestination } from '../../src/destinations/mysql/mysql-destination.js';
import type { MysqlDestinationOptions } from '../../src/destinations/mysql/mysql-destination.js';
import { connectMysql } from '../../src/destinations/mysql/mysql-connection.js';
import { listTables, stateRows, tableCounts } from '../../src/destinations/mysql/mysql-introspect.js';
import { lockName } from '../../src/destinations/mysql/mysql-lock.js';
import { upsertStatements } from '../../src/destinations/mysql/mysql-rows.js';
import { parseMysqlUrl } from '../../src/destinations/mysql/mysql-url.js';
import { plainDecimal, quoteString, toDatetime } from '../../src/destinations/mysql/mysql-values.js';
import { PostgresDestination } from '../../src/destinations/postgres/postgres-destination.js';
import { ConfigError, DestinationBusyError, DestinationError } from '../../src/errors.js';
import { closedPort, until } from '../support/waiting.js';
import { invoice, invoicesTable, state, timeEntriesTable, timeEntry, toRows } from './fixtures.js';
import { MYSQL_URL, adminConnection, databaseUrl, dropDatabase, uniqueDatabase } from './mysql-support.js';
import { adminClient, dropSchema, schemaUrl, uniqueSchema } from './postgres-support.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_INDEX = fileURLToPath(new URL('../../src/destinations/index.ts', import.meta.url));
const opened: Array<{ close(): Promise<void> }> = [];
const databases: string[] = [];
const connections: mysql.Connection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) await connection.end().catch(() => undefined);
  for (const destination of opened.splice(0)) await destination.close();
  for (const database of databases.splice(0)) await dropDatabase(database);
});

/** An unopened destination on `database` (a fresh one by default), closed and dropped after the test. */
function another(database: string, options: MysqlDestinationOptions = {}): MysqlDestination {
  if (!databases.includes(database)) databases.push(database);
  const destination = new MysqlDestination(databaseUrl(database), options);
  opened.push(destination);
  return destination;
}

async function fresh(options: MysqlDestinationOptions = {}): Promise<MysqlDestination> {
  const destination = another(uniqueDatabase(), options);
  await destination.open();
  return destination;
}

async function admin(database?: string): Promise<mysql.Connection> {
  const connection = await adminConnection(database);
  connections.push(connection);
  return connection;
}

async function select(connection: mysql.Connection, sql: string, params: unknown[] = []) {
  const [rows] = await connection.query(sql, params);
  return rows as Record<string, unknown>[];
}

function timeEntryBatch(
  destination: Destination,
  columns: readonly Column[],
  records: JsonObject[],
  cursor: string | null = null,
): Batch {
  return {
    table: 'time_entries',
    rows: toRows(destination, columns, records),
    children: [],
    state: state('time_entries', cursor),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<DestinationError> {
  const error = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DestinationError);
  expect((error as Error).message).toMatch(/^[^\n]+$/);
  return error as DestinationError;
}

describe('MySQL destination URL', () => {
  it('reads user, password, host, port, database and ssl, and keeps the password out of the description', () => {
    const target = parseMysqlUrl('mysql://sync:s3cr%40t@db.example:3307/warehouse?ssl=true');
    expect(target).toMatchObject({
      user: 'sync',
      password: 's3cr@t',
      host: 'db.example',
      port: 3307,
      database: 'warehouse',
      ssl: 'verify',
      description: 'mysql://sync@db.example:3307/warehouse?ssl=true',
    });
    expect(target.secrets).toEqual(expect.arrayContaining(['s3cr@t', 's3cr%40t']));
    expect(parseMysqlUrl('mariadb://u@[::1]/h-1').host).toBe('::1');
    expect(parseMysqlUrl('mariadb://u@h/h').port).toBe(3306);
    expect(parseMysqlUrl('mysql://u@h/h?ssl=no-verify').ssl).toBe('no-verify');
    expect(parseMysqlUrl('mysql://u@h/h?ssl=false').ssl).toBe('off');
  });

  it.each([
    ['mysql://u:hunter2@h/db?schema=x', 'unsupported MySQL URL parameter "schema" (supported: ssl'],
    ['mysql://u:hunter2@h/db?password=hunter2', 'unsupported MySQL URL parameter "password"'],
    ['mysql://u:hunter2@h/db?ssl=true&ssl=false', 'ssl is given more than once'],
    ['mysql://u:hunter2@h/db?ssl=maybe', 'ssl must be true, false or no-verify'],
    ['mysql://u:hunter2@h', 'it must name a database'],
    ['mysql://u:hunter2@h/', 'it must name a database'],
    ['mysql://u:hunter2@h/a.b', 'invalid MySQL database name "a.b"'],
    [`mysql://u:hunter2@h/${'d'.repeat(65)}`, 'at most 64 characters'],
    ['mysql://h/db', 'it must name a user'],
    ['mysql://u:hunter2@h:0/db', 'the port must be a number from 1 to 65535'],
    ['mysql://u:hunter2@[bad/db', 'invalid MySQL URL: expected mysql://'],
    ['mysql://u:hunter2@h/db#x', 'a "#" must be percent-encoded'],
    ['mysql://u:hun#ter2@h/db', 'invalid MySQL URL: expected mysql://'],
  ])('refuses %s with a one-line ConfigError that does not show the password', (url, message) => {
    expect(() => parseMysqlUrl(url)).toThrow(ConfigError);
    expect(() => parseMysqlUrl(url)).toThrow(message);
    expect(() => parseMysqlUrl(url)).toThrow(/^[^\n]+$/);
    expect(() => parseMysqlUrl(url)).not.toThrow(/hunter2|ter2/);
  });

  it('is what parseDestinationUrl and openDestination make of mysql:// and mariadb:// URLs', () => {
    expect(parseDestinationUrl('mysql://u@h/db')).toEqual({ kind: 'mysql', url: 'mysql://u@h/db' });
    expect(parseDestinationUrl('MariaDB://u@h/db').kind).toBe('mysql');
    expect(() => parseDestinationUrl('mysql://u@h/db?charset=latin1')).toThrow(ConfigError);
    const destination = openDestination('mariadb://harvest:s3cret@127.0.0.1:1/none');
    expect(destination).toBeInstanceOf(MysqlDestination);
    expect(destination.kind).toBe('mysql');
    expect(destination.description).toBe('mariadb://harvest@127.0.0.1:1/none');
  });
});

describe('MySQL driver loading', () => {
  it('is deferred until a MySQL destination connects, so other runs do not pay for it', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { openDestination } = await import(${JSON.stringify(SOURCE_INDEX)});
      openDestination('mysql://u@127.0.0.1:1/db');
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/mysql2/'));
      process.stdout.write(String(loaded));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('false');
  });
});

describe('MySQL value encoding', () => {
  it.each([
    [0.1, '0.1'],
    [100, '100'],
    [-12.5, '-12.5'],
    [1e-7, '0.0000001'],
    [-2.5e-8, '-0.000000025'],
    [1.5e-10, '0.00000000015'],
    [1e21, '1000000000000000000000'],
    [1.2345e22, '12345000000000000000000'],
    [1 / 3600, '0.0002777777777777778'],
  ])('writes the number %s as the exact decimal %s', (value, text) => {
    expect(plainDecimal(value)).toBe(text);
    expect(Number(text)).toBe(value);
  });

  it('turns ISO 8601 times into UTC DATETIME text, and leaves other text alone', () => {
    expect(toDatetime('2024-02-29T23:59:58Z')).toBe('2024-02-29 23:59:58');
    expect(toDatetime('2024-02-29T23:59:58.123456789Z')).toBe('2024-02-29 23:59:58.123456');
    expect(toDatetime('2024-03-01T01:59:58+02:00')).toBe('2024-02-29 23:59:58');
    expect(toDatetime('2024-02-29T20:29:58.5-0330')).toBe('2024-02-29 23:59:58.5');
    expect(toDatetime('yesterday')).toBeNull();
    expect(toDatetime('2024-02-29')).toBeNull();
  });

  it('splits rows into statements no longer than the limit, keeping every row once and in order', () => {
    const sql = {
      head: 'INSERT INTO t (id, s, a, b) VALUES ',
      tail: ' ON DUPLICATE KEY UPDATE s = VALUES(s)',
    };
    const rows = Array.from({ length: 300 }, (_, i) => [i, `ü ${'x'.repeat(i % 97)}`]);
    const statements = [...upsertStatements(sql, rows, 4096, 't')];
    expect(statements.length).toBeGreaterThan(5);
    for (const statement of statements) expect(Buffer.byteLength(statement)).toBeLessThanOrEqual(4096);
    const ids = statements.flatMap((s) => [...s.matchAll(/\((\d+), '/g)].map((m) => Number(m[1])));
    expect(ids).toEqual(rows.map((r) => r[0]));
    expect([...upsertStatements(sql, rows, 1 << 20, 't')]).toHaveLength(1);
    expect(() => [...upsertStatements(sql, [[1, 'y'.repeat(5000)]], 4096, 't')]).toThrow(
      /max_allowed_packet/,
    );
  });

  it('quotes strings with backslash escapes', () => {
    expect(quoteString(`it's a \\ path`)).toBe(`'it\\'s a \\\\ path'`);
    expect(quoteString('a\0b\nc\rd')).toBe(`'a\\0b\\nc\\rd'`);
    expect(quoteString('plain 🎉')).toBe(`'plain 🎉'`);
  });
});

describe('MySQL destination', () => {
  it('creates its database and tables with exact types and byte-wise utf8mb4 text', async () => {
    const destination = await fresh();
    await destination.ensureTable(timeEntriesTable);
    await destination.ensureTable(invoicesTable);
    const connection = await admin();
    const rows = await select(
      connection,
      `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?`,
      [destination.database],
    );
    const column = (t: string, c: string) => rows.find((r) => r.t === t && r.c === c);
    // MySQL 8.0.19+ no longer shows integer display widths: bigint(20) there is bigint
    const typeOf = (t: string, c: string) => String(column(t, c)?.type).replace(/^bigint\(20\)$/, 'bigint');
    expect(typeOf('time_entries', 'id')).toBe('bigint');
    expect(typeOf('time_entries', 'hours')).toBe('decimal(40,20)');
    expect(typeOf('time_entries', 'billable')).toBe('tinyint(1)');
    expect(typeOf('time_entries', 'spent_date')).toBe('date');
    expect(typeOf('time_entries', 'created_at')).toBe('datetime(6)');
    expect(typeOf('time_entries', '_synced_at')).toBe('datetime(6)');
    expect(typeOf('time_entries', 'started_time')).toBe('longtext');
    expect(column('time_entries', 'notes')?.collation).toBe('utf8mb4_bin');
    expect(typeOf('invoices', 'payment_options')).toMatch(/^(json|longtext)$/);
    expect(typeOf('_harvest_sync_state', 'pass')).toBe('longtext');
    const engines = await select(
      connection,
      `SELECT DISTINCT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`,
      [destination.database],
    );
    expect(engines).toEqual([{ engine: 'InnoDB' }]);
  });

  it('stores decimals exactly as PostgreSQL numeric does', async () => {
    const values = [
      0.1,
      19.99,
      100,
      1e-7,
      0.1 + 0.2,
      1 / 60,
      1 / 3600,
      1234567.891,
      98765432109.87,
      0,
      -7.25,
    ];
    const records = values.map((hours, i) => timeEntry(i + 1, { hours }));
    const schema = uniqueSchema('hs_mysql_cmp');
    const postgres = new PostgresDestination(schemaUrl(schema));
    const client = await adminClient(schema);
    try {
      await postgres.open();
      await postgres.writeBatch(
        timeEntryBatch(postgres, await postgres.ensureTable(timeEntriesTable), records),
      );
      const fromPostgres = (
        await client.query<{ hours: string }>('SELECT hours::text AS hours FROM time_entries ORDER BY id')
      ).rows.map((r) => r.hours);

      const destination = await fresh();
      await destination.writeBatch(
        timeEntryBatch(destination, await destination.ensureTable(timeEntriesTable), records),
      );
      const fromMysql = (
        await select(await admin(destination.database), 'SELECT hours FROM time_entries ORDER BY id')
      ).map((r) => String(r.hours).replace(/\.?0+$/, ''));
      expect(fromMysql).toEqual(fromPostgres);
      expect(fromMysql).toEqual(values.map(plainDecimal));
    } finally {
      await postgres.close();
      await client.end();
      await dropSchema(schema);
    }
  });

  it('keeps times in UTC whatever the reading session’s time zone, and NUL in text', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(
      timeEntryBatch(destination, columns, [
        timeEntry(1, {
          created_at: '2024-05-14T16:40:02Z',
          updated_at: '2024-05-15T10:31:17+02:00',
          timer_started_at: '2024-05-15T08:31:17.25Z',
          notes: 'a\0b',
        }),
      ]),
    );
    const connection = await admin(destination.database);
    await connection.query("SET time_zone = '+05:00'");
    const [row] = await select(
      connection,
      `SELECT DATE_FORMAT(created_at, '%Y-%m-%d %T') AS created, DATE_FORMAT(updated_at, '%Y-%m-%d %T') AS updated,
              DATE_FORMAT(timer_started_at, '%T.%f') AS timer, notes,
              ABS(TIMESTAMPDIFF(SECOND, _synced_at, UTC_TIMESTAMP())) < 60 AS stamped_utc
       FROM time_entries`,
    );
    expect(row).toEqual({
      created: '2024-05-14 16:40:02',
      updated: '2024-05-15 08:31:17',
      timer: '08:31:17.250000',
      notes: 'a\0b',
      stamped_utc: 1,
    });
  });

  it.each([
    ['an amount too large for DECIMAL(40,20)', { hours: 1e25 }],
    ['text in a bigint column', { user: { id: 'abc', name: 'x' } }],
    ['a time that is no time', { created_at: 'yesterday' }],
    ['a date that is no date', { spent_date: '2024-02-30' }],
  ])('refuses %s (strict mode) and writes nothing of the batch', async (_what, overrides) => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1)], 'before'));
    const batch = timeEntryBatch(destination, columns, [timeEntry(2), timeEntry(3, overrides)], 'after');
    const error = await failure(destination.writeBatch(batch));
    expect(error.message).toContain('cannot write time_entries');
    expect((await destination.tableInfo('time_entries'))?.rowCount).toBe(1);
    expect((await destination.readState('time_entries'))?.cursor).toBe('before');
  });

  it('splits a page into statements the server accepts, and refuses one record too large for any', async () => {
    const destination = await fresh({ maxStatementBytes: 64 * 1024 });
    const columns = await destination.ensureTable(timeEntriesTable);
    const records = Array.from({ length: 600 }, (_, i) =>
      timeEntry(i + 1, { notes: `${'ü'.repeat(300)} ${i}` }),
    );
    const result = await destination.writeBatch(timeEntryBatch(destination, columns, records));
    expect(result.tables.time_entries).toEqual({ inserted: 600, updated: 0, unchanged: 0, deleted: 0 });
    const connection = await admin(destination.database);
    const [row] = await select(
      connection,
      `SELECT COUNT(*) AS n, SUM(CHAR_LENGTH(notes)) AS chars FROM time_entries`,
    );
    expect(Number(row.n)).toBe(600);
    expect(Number(row.chars)).toBe(records.reduce((n, r) => n + [...String(r.notes)].length, 0));

    const huge = timeEntry(601, { notes: 'x'.repeat(70 * 1024) });
    const error = await failure(
      destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(602), huge])),
    );
    expect(error.message).toMatch(/larger than the server's max_allowed_packet/);
    expect((await destination.tableInfo('time_entries'))?.rowCount).toBe(600);
  });

  it('counts a change of case or of a trailing space as an update, and keeps it exactly', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    const write = async (notes: string) =>
      (await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1, { notes })]))).tables
        .time_entries;
    expect(await write('Same')).toMatchObject({ inserted: 1 });
    expect(await write('same')).toMatchObject({ updated: 1, unchanged: 0 });
    expect(await write('same ')).toMatchObject({ updated: 1, unchanged: 0 });
    expect(await write('same ')).toMatchObject({ updated: 0, unchanged: 1 });
    const [row] = await select(await admin(destination.database), 'SELECT notes FROM time_entries');
    expect(row.notes).toBe('same ');
  });

  it('stores arrays as valid JSON', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(invoicesTable);
    const options = ['credit_card', 'ach "quoted"', '🎉', 'back\\slash'];
    await destination.writeBatch({
      table: 'invoices',
      rows: toRows(destination, columns, [invoice(1, [], { payment_options: options })]),
      children: [],
      state: state('invoices', null),
    });
    const [row] = await select(
      await admin(destination.database),
      'SELECT JSON_TYPE(payment_options) AS kind, JSON_LENGTH(payment_options) AS n, payment_options AS v FROM invoices',
    );
    expect([row.kind, row.n]).toEqual(['ARRAY', 4]);
    expect(typeof row.v === 'string' ? JSON.parse(row.v) : row.v).toEqual(options);
  });

  it('refuses column names MySQL cannot hold or would confuse, changing nothing', async () => {
    const destination = await fresh();
    await destination.ensureTable(timeEntriesTable);
    const fine: Column = { name: 'fine', type: 'text', path: ['fine'] };
    for (const [name, message] of [
      ['x'.repeat(65), /64-character/],
      ['party 🎉', /invalid MySQL identifier/],
      ['trailing ', /invalid MySQL identifier/],
      ['Notes', /clashes with column "notes" \(MySQL column names ignore case\)/],
      ['_SYNCED_AT', /clashes/],
    ] as const) {
      const error = await failure(
        destination.addColumns('time_entries', [fine, { name, type: 'text', path: [name] }]),
      );
      expect(error.message).toMatch(message);
    }
    expect((await destination.tableInfo('time_entries'))?.columns).not.toContain('fine');
    expect(await destination.addColumns('time_entries', [fine])).toContainEqual(fine);
  });

  it('refuses an existing table whose primary key is not id', async () => {
    const destination = await fresh();
    const connection = await admin(destination.database);
    await connection.query('CREATE TABLE "time_entries" ("id" BIGINT, "notes" TEXT)');
    const error = await failure(destination.ensureTable(timeEntriesTable));
    expect(error.message).toContain('"id" is not its primary key');
  });

  it('answers now() at microsecond precision in UTC, after every stamp already written', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1)]));
    const now = await destination.now();
    expect(now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(Math.abs(Date.parse(now) - Date.now())).toBeLessThan(60_000);
    const [row] = await select(
      await admin(destination.database),
      `SELECT COUNT(*) AS n FROM time_entries WHERE _synced_at < ?`,
      [now.replace('T', ' ').replace('Z', '')],
    );
    expect(Number(row.n)).toBe(1);
  });
});

describe('MySQL introspection (for reports that must not take the run lock)', () => {
  it('lists tables, counts rows and deleted rows, and reads the saved states', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1), timeEntry(2)], 'c1'));
    const since = await destination.now();
    await destination.writeBatch({
      ...timeEntryBatch(destination, columns, [timeEntry(2)], 'c2'),
      sweep: { tables: ['time_entries'], since },
    });
    const connection = await connectMysql(parseMysqlUrl(databaseUrl(destination.database)), {
      connectTimeoutMs: 5000,
    });
    connections.push(connection);
    expect(await listTables(connection)).toEqual([
      '_harvest_sync_columns',
      '_harvest_sync_schema',
      '_harvest_sync_state',
      'time_entries',
    ]);
    expect(await tableCounts(connection, 'time_entries')).toEqual({ rows: 2, deleted: 1 });
    expect(await stateRows(connection)).toEqual([
      { object: 'time_entries', cursor: 'c2', pass: null, last_full_pass_at: null },
    ]);
    expect(await stateRows(connection, 'invoices')).toEqual([]);
  });
});

describe('MySQL run lock', () => {
  it('is held by a session of its own, one per database, and freed on close', async () => {
    const first = await fresh();
    const connection = await admin();
    const [holders] = await select(connection, 'SELECT IS_USED_LOCK(?) AS run, IS_USED_LOCK(?) AS writer', [
      lockName(first.database, 'run'),
      lockName(first.database, 'writer'),
    ]);
    expect(holders.run).not.toBeNull();
    expect(holders.writer).not.toBeNull();
    expect(holders.run).not.toEqual(holders.writer);

    const second = another(first.database, { lockWaitMs: 50 });
    await expect(second.open()).rejects.toBeInstanceOf(DestinationBusyError);
    await expect(second.open()).rejects.toThrow(`another run is writing to ${first.description}`);
    await fresh({ lockWaitMs: 50 });
    await first.close();
    await second.open();
    expect(await second.readState('time_entries')).toBeNull();
  });

  it('stops every call of a run whose lock session died, and lets the next run in', async () => {
    const first = await fresh();
    const connection = await admin();
    const [{ id }] = await select(connection, 'SELECT IS_USED_LOCK(?) AS id', [
      lockName(first.database, 'run'),
    ]);
    await connection.query(`KILL CONNECTION ${Number(id)}`);
    const error = await until(
      () =>
        first.readState('time_entries').then(
          () => undefined,
          (e: unknown) => e,
        ),
      'the run to notice its lock is gone',
    );
    expect(error).toBeInstanceOf(DestinationError);
    await expect(first.now()).rejects.toThrow(/lost the connection/);
    // Its writing session still holds the writer lock: the next run waits until the run is gone.
    const next = another(first.database, { writerWaitMs: 100 });
    await expect(next.open()).rejects.toThrow(/session of an earlier run is still writing/);
    await first.close();
    await next.open();
  });

  it('waits for the writing session of a dead run to end before letting a new run in', async () => {
    const database = uniqueDatabase();
    const earlier = another(database);
    await earlier.open();
    await earlier.close();
    const connection = await admin();
    await select(connection, 'SELECT GET_LOCK(?, 0)', [lockName(database, 'writer')]);
    const next = another(database, { writerWaitMs: 100 });
    const error = await failure(next.open());
    expect(error).toBeInstanceOf(DestinationBusyError);
    expect(error.message).toContain('the session of an earlier run is still writing');
    await select(connection, 'SELECT RELEASE_LOCK(?)', [lockName(database, 'writer')]);
    await next.open();
  });
});

describe('MySQL connection failures', () => {
  it('reports a refused connection in one line naming host, port and database, without the password', async () => {
    const port = await closedPort();
    const destination = new MysqlDestination(`mysql://root:hunter2-secret@127.0.0.1:${port}/test`);
    const error = await failure(destination.open());
    expect(error).not.toBeInstanceOf(DestinationBusyError);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('"test"');
    expect(error.message).toContain('connection refused');
    expect(error.message).not.toContain('hunter2');
    expect(error.retryable).toBe(true);
    await destination.close();
  });

  it('reports a wrong password as access denied, not retryable, without the password', async () => {
    const url = new URL(MYSQL_URL);
    url.password = 'hunter2-secret';
    const error = await failure(new MysqlDestination(url.toString()).open());
    expect(error.message).toContain('access denied');
    expect(error.message).not.toContain('hunter2');
    expect(error.retryable).toBe(false);
  });

  it('fails a batch whose connection is killed mid-write with nothing half-written', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(
      timeEntryBatch(destination, columns, [timeEntry(1), timeEntry(2000)], 'before'),
    );
    const stamp = `SELECT "_synced_at" AS t FROM \`${destination.database}\`.time_entries WHERE "id" = 1`;
    const watcher = await admin();
    const [before] = await select(watcher, stamp);

    // Hold row 2000 so the batch stops inside its transaction, having written row 1 already.
    const blocker = await admin(destination.database);
    await blocker.query('START TRANSACTION');
    await blocker.query('SELECT id FROM time_entries WHERE id = 2000 FOR UPDATE');
    const records = Array.from({ length: 2000 }, (_, i) => timeEntry(i + 1, { notes: 'after' }));
    const outcome = failure(destination.writeBatch(timeEntryBatch(destination, columns, records, 'after')));
    const id = await until(async () => {
      const rows = await select(
        watcher,
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND (INFO LIKE 'UPDATE%' OR INFO LIKE 'INSERT%')`,
        [destination.database],
      );
      return rows[0]?.id;
    }, 'the batch to wait for the row lock');
    await watcher.query(`KILL CONNECTION ${Number(id)}`);
    await blocker.query('ROLLBACK');

    const error = await outcome;
    expect(error.retryable).toBe(true);
    const [row] = await select(watcher, `SELECT COUNT(*) AS n FROM \`${destination.database}\`.time_entries`);
    expect(Number(row.n)).toBe(2);
    expect(await select(watcher, stamp)).toEqual([before]);
    await expect(destination.readState('time_entries')).rejects.toBeInstanceOf(DestinationError);
    await destination.close();

    const next = another(destination.database);
    await next.open();
    expect((await next.readState('time_entries'))?.cursor).toBe('before');
  });
});
