import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Column, JsonObject } from '../../src/catalog/types.js';
import type { Batch } from '../../src/destinations/destination.js';
import { openDestination } from '../../src/destinations/index.js';
import { copyField, copyLine } from '../../src/destinations/postgres/postgres-copy.js';
import { PostgresDestination } from '../../src/destinations/postgres/postgres-destination.js';
import { parsePostgresUrl } from '../../src/destinations/postgres/postgres-url.js';
import { ConfigError, DestinationBusyError, DestinationError } from '../../src/errors.js';
import { invoice, invoicesTable, state, timeEntriesTable, timeEntry, toRows } from './fixtures.js';
import { closedPort, until } from '../support/waiting.js';
import { PG_URL, adminClient, dropSchema, schemaUrl, uniqueSchema } from './postgres-support.js';

const opened: PostgresDestination[] = [];
const schemas: string[] = [];
const clients: pg.Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.end().catch(() => undefined);
  for (const destination of opened.splice(0)) await destination.close();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

/** A destination on a fresh schema, opened, dropped after the test. */
async function fresh(options: { lockWaitMs?: number } = {}): Promise<PostgresDestination> {
  const schema = uniqueSchema('hs_pg');
  schemas.push(schema);
  const destination = new PostgresDestination(schemaUrl(schema), options);
  opened.push(destination);
  await destination.open();
  return destination;
}

function another(schema: string, options: { lockWaitMs?: number } = {}): PostgresDestination {
  const destination = new PostgresDestination(schemaUrl(schema), options);
  opened.push(destination);
  return destination;
}

async function admin(schema?: string): Promise<pg.Client> {
  const client = await adminClient(schema);
  clients.push(client);
  return client;
}

function timeEntryBatch(
  destination: PostgresDestination,
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

describe('PostgreSQL destination URL', () => {
  it('defaults the schema to harvest and keeps the password out of the description', () => {
    const target = parsePostgresUrl('postgres://sync:s3cr%40t@db.example:6543/warehouse?sslmode=require');
    expect(target.schema).toBe('harvest');
    expect([target.host, target.port, target.database, target.user]).toEqual([
      'db.example',
      6543,
      'warehouse',
      'sync',
    ]);
    expect(target.description).toBe(
      'postgres://sync@db.example:6543/warehouse?sslmode=require&schema=harvest',
    );
    expect(target.connectionString).toContain('sslmode=require');
    expect(target.connectionString).not.toContain('schema=');
    expect(target.secrets).toContain('s3cr@t');
  });

  it('takes the schema from ?schema= and refuses a password given as a parameter without echoing it', () => {
    expect(new PostgresDestination('postgresql://u@h/db?schema=my_data').schema).toBe('my_data');
    const url = 'postgresql://u@h/db?schema=my_data&password=pa55word';
    expect(() => new PostgresDestination(url)).toThrow('unsupported PostgreSQL URL parameter "password"');
    expect(() => new PostgresDestination(url)).not.toThrow(/pa55word/);
  });

  it.each([
    ['Upper', 'upper case'],
    ['1abc', 'leading digit'],
    ['a;drop', 'punctuation'],
    ['a"b', 'a quote'],
    ['', 'empty'],
    ['x'.repeat(64), 'longer than 63'],
    ['pg_mine', 'reserved prefix'],
  ])('refuses the schema %j (%s) with a one-line ConfigError', (schema) => {
    const url = `postgres://u:hunter2@h/db?schema=${encodeURIComponent(schema)}`;
    expect(() => new PostgresDestination(url)).toThrow(ConfigError);
    expect(() => new PostgresDestination(url)).toThrow(/^[^\n]*schema[^\n]*$/);
    expect(() => new PostgresDestination(url)).not.toThrow(/hunter2/);
  });

  it('refuses a repeated schema, a non-postgres scheme and text that is no URL, without echoing it', () => {
    expect(() => new PostgresDestination('postgres://h/db?schema=a&schema=b')).toThrow(ConfigError);
    expect(() => new PostgresDestination('mysql://u:hunter2@h/db')).toThrow(ConfigError);
    expect(() => new PostgresDestination('postgres://u:hunter2@[bad/db')).toThrow(ConfigError);
    expect(() => new PostgresDestination('postgres://u:hunter2@[bad/db')).not.toThrow(/hunter2/);
  });

  it('is what openDestination makes of a postgres:// URL', () => {
    const destination = openDestination('postgres://postgres@127.0.0.1:5432/test?schema=abc');
    expect(destination).toBeInstanceOf(PostgresDestination);
    expect(destination.kind).toBe('postgres');
  });
});

describe('COPY text encoding', () => {
  it('escapes backslash, tab, newline and carriage return, writes NULL as \\N and drops NUL', () => {
    expect(copyField('a\\b\tc\nd\re\0f')).toBe('a\\\\b\\tc\\nd\\ref');
    expect(copyField('\\N')).toBe('\\\\N');
    expect(copyField(null)).toBe('\\N');
    expect([copyField(true), copyField(false)]).toEqual(['t', 'f']);
    expect([copyField(0.1), copyField(9876543210), copyField(-0.5)]).toEqual(['0.1', '9876543210', '-0.5']);
    expect(copyLine([1, null, 'x'])).toBe('1\t\\N\tx\n');
  });

  it('refuses a number no column can hold', () => {
    expect(() => copyField(Number.NaN)).toThrow(DestinationError);
    expect(() => copyField(Number.POSITIVE_INFINITY)).toThrow(DestinationError);
  });
});

describe('PostgreSQL destination', () => {
  it('creates the schema and its tables with PostgreSQL types', async () => {
    const destination = await fresh();
    await destination.ensureTable(timeEntriesTable);
    await destination.ensureTable(invoicesTable);
    const client = await admin();
    const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1`,
      [destination.schema],
    );
    const typeOf = (table: string, column: string) =>
      rows.find((r) => r.table_name === table && r.column_name === column)?.data_type;
    expect(typeOf('time_entries', 'id')).toBe('bigint');
    expect(typeOf('time_entries', 'hours')).toBe('numeric');
    expect(typeOf('time_entries', 'billable')).toBe('boolean');
    expect(typeOf('time_entries', 'spent_date')).toBe('date');
    expect(typeOf('time_entries', 'created_at')).toBe('timestamp with time zone');
    expect(typeOf('time_entries', 'started_time')).toBe('text');
    expect(typeOf('time_entries', '_synced_at')).toBe('timestamp with time zone');
    expect(typeOf('invoices', 'payment_options')).toBe('jsonb');
    expect(typeOf('_harvest_sync_state', 'cursor')).toBe('text');
    expect(typeOf('_harvest_sync_columns', 'path')).toBe('text');
    const inPublic = await client.query(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'time_entries'`,
    );
    expect(inPublic.rowCount).toBe(0);
  });

  it('round-trips decimals, big ids, dates, timestamps, booleans, json and odd text exactly', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    const odd = 'tab\there\nnew line\r\\N back\\slash "quotes" \'single\' ünïcødé 🧾 עברית e\u0301 \u2028';
    await destination.writeBatch(
      timeEntryBatch(destination, columns, [
        timeEntry(9876543210, {
          hours: 0.1,
          rounded_hours: 1234567.891,
          billable_rate: 19.99,
          cost_rate: 1e-7,
          notes: odd,
          billable: false,
          user: { id: 2 ** 53 - 1, name: 'Ann' },
          created_at: '2024-05-14T16:40:02Z',
        }),
      ]),
    );
    const client = await admin(destination.schema);
    const { rows } = await client.query(
      `SELECT id::text, hours::text, rounded_hours::text, billable_rate::text, cost_rate::text, notes,
              billable, user_id::text, spent_date::text, started_time,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS created
       FROM "time_entries"`,
    );
    expect(rows).toEqual([
      {
        id: '9876543210',
        hours: '0.1',
        rounded_hours: '1234567.891',
        billable_rate: '19.99',
        cost_rate: '0.0000001',
        notes: odd,
        billable: false,
        user_id: String(2 ** 53 - 1),
        spent_date: '2024-05-14',
        started_time: '13:00',
        created: '2024-05-14T16:40:02',
      },
    ]);
  });

  it('stores arrays as jsonb and drops NUL, which PostgreSQL text cannot hold', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(invoicesTable);
    const withNul = invoice(1, [], { subject: 'a\0b', payment_options: ['x\u0000y', 'lit\\u0000eral'] });
    await destination.writeBatch({
      table: 'invoices',
      rows: toRows(destination, columns, [withNul]),
      children: [],
      state: state('invoices', null),
    });
    const client = await admin(destination.schema);
    const { rows } = await client.query(
      `SELECT subject, jsonb_typeof(payment_options) AS kind, payment_options FROM "invoices"`,
    );
    expect(rows).toEqual([{ subject: 'ab', kind: 'array', payment_options: ['xy', 'lit\\u0000eral'] }]);
  });

  it('keeps the last of two rows with one id in a batch, counting the first as unchanged', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    const result = await destination.writeBatch(
      timeEntryBatch(destination, columns, [
        timeEntry(1, { notes: 'first' }),
        timeEntry(1, { notes: 'second' }),
      ]),
    );
    expect(result.tables.time_entries).toEqual({ inserted: 1, updated: 0, unchanged: 1, deleted: 0 });
    const client = await admin(destination.schema);
    expect((await client.query('SELECT notes FROM "time_entries"')).rows).toEqual([{ notes: 'second' }]);
  });

  it('stamps a batch with its transaction clock, and never sweeps a row stamped exactly at the bound', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1)]));
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(2), timeEntry(3)]));
    const client = await admin(destination.schema);
    const stamps = await client.query<{ id: string; stamp: string }>(
      `SELECT id::text, to_char("_synced_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS stamp
       FROM "time_entries" ORDER BY id`,
    );
    const [first, second, third] = stamps.rows;
    expect(second.stamp).toBe(third.stamp);
    expect(first.stamp < second.stamp).toBe(true);
    const stateStamp = await client.query(
      `SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS stamp FROM "_harvest_sync_state"`,
    );
    expect(stateStamp.rows[0].stamp).toBe(second.stamp);

    // The bound is the second batch's own stamp: rows 2 and 3 were written "at" it and stay.
    const result = await destination.writeBatch({
      ...timeEntryBatch(destination, columns, []),
      sweep: { tables: ['time_entries'], since: second.stamp },
    });
    expect(result.tables.time_entries.deleted).toBe(1);
    const live = await client.query(
      'SELECT id::text FROM "time_entries" WHERE "_deleted_at" IS NULL ORDER BY id',
    );
    expect(live.rows.map((r: { id: string }) => r.id)).toEqual(['2', '3']);
  });

  it('writes a first load page after page without a lookup, and a page holding a known id after all exactly', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    const write = (ids: number[], notes = 'n', cursor: string | null = null) =>
      destination.writeBatch(
        timeEntryBatch(
          destination,
          columns,
          ids.map((id) => timeEntry(id, { notes: `${notes}${id}` })),
          cursor,
        ),
      );
    const counts = (inserted: number, updated = 0, unchanged = 0) => ({
      inserted,
      updated,
      unchanged,
      deleted: 0,
    });
    expect((await write([1, 2])).tables.time_entries).toEqual(counts(2));
    // new ids again: COPYed straight in, stamped by the column's default
    expect((await write([3, 4])).tables.time_entries).toEqual(counts(2));
    // id 2 is known: the optimistic COPY fails on the primary key, is rolled back, and the page merged
    expect((await write([5, 2], 'changed', '2024-05-01T00:00:00Z')).tables.time_entries).toEqual(
      counts(1, 1),
    );
    // read again as it was: unchanged, stamped again
    expect((await write([6, 1], 'n')).tables.time_entries).toEqual(counts(1, 0, 1));
    const client = await admin(destination.schema);
    const rows = await client.query<{ id: string; notes: string; stamp: string }>(
      `SELECT id::text, notes, "_synced_at"::text AS stamp FROM "time_entries" ORDER BY id`,
    );
    expect(rows.rows.map((r) => [r.id, r.notes])).toEqual([
      ['1', 'n1'],
      ['2', 'changed2'],
      ['3', 'n3'],
      ['4', 'n4'],
      ['5', 'changed5'],
      ['6', 'n6'],
    ]);
    // one stamp per batch, each the stamp of the state written with it, in order
    const stamp = (id: string) => rows.rows.find((r) => r.id === id)?.stamp ?? '';
    expect(stamp('3')).toBe(stamp('4'));
    expect(stamp('5')).toBe(stamp('2'));
    expect(stamp('6')).toBe(stamp('1'));
    expect(stamp('3') < stamp('5') && stamp('5') < stamp('6')).toBe(true);
    const saved = await client.query<{ cursor: string | null; at: string }>(
      `SELECT "cursor", updated_at::text AS at FROM "_harvest_sync_state" WHERE object = 'time_entries'`,
    );
    expect(saved.rows[0].at).toBe(stamp('6'));
    expect(saved.rows[0].cursor).toBeNull();
  });

  it("gives the stamp column of an earlier release's table its default, so rows COPYed without it are stamped", async () => {
    const destination = await fresh();
    await destination.ensureTable(timeEntriesTable);
    const client = await admin(destination.schema);
    await client.query('ALTER TABLE "time_entries" ALTER COLUMN "_synced_at" DROP DEFAULT');
    await destination.close();
    const again = another(destination.schema);
    await again.open();
    const columns = await again.ensureTable(timeEntriesTable);
    const defaults = await client.query<{ def: string | null }>(
      `SELECT column_default AS def FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'time_entries' AND column_name = '_synced_at'`,
      [destination.schema],
    );
    expect(defaults.rows[0].def).toBe('now()');
    await again.writeBatch(timeEntryBatch(again, columns, [timeEntry(1)]));
    await again.writeBatch(timeEntryBatch(again, columns, [timeEntry(2)]));
    const stamped = await client.query(
      'SELECT count(*)::int AS n FROM "time_entries" WHERE "_synced_at" IS NOT NULL',
    );
    expect(stamped.rows[0].n).toBe(2);
  });

  it('answers now() at microsecond precision, after every stamp already written', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1)]));
    const now = await destination.now();
    expect(now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const client = await admin(destination.schema);
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM "time_entries" WHERE "_synced_at" < $1`,
      [now],
    );
    expect(rows[0].n).toBe(1);
  });

  it('refuses a column name PostgreSQL would truncate, changing nothing', async () => {
    const destination = await fresh();
    await destination.ensureTable(timeEntriesTable);
    const long: Column = { name: 'x'.repeat(64), type: 'text', path: ['x'] };
    const fine: Column = { name: 'fine', type: 'text', path: ['fine'] };
    await expect(destination.addColumns('time_entries', [fine, long])).rejects.toThrow(/63-byte/);
    const info = await destination.tableInfo('time_entries');
    expect(info?.columns).not.toContain('fine');
    expect(await destination.addColumns('time_entries', [fine])).toContainEqual(fine);
  });

  it('refuses an existing table whose primary key is not id', async () => {
    const destination = await fresh();
    const client = await admin(destination.schema);
    await client.query('CREATE TABLE "time_entries" ("id" bigint, "notes" text)');
    await expect(destination.ensureTable(timeEntriesTable)).rejects.toThrow(/"id" is not its primary key/);
  });
});

describe('PostgreSQL run lock', () => {
  it('lets one destination per schema open at a time, another schema freely, and frees it on close', async () => {
    const first = await fresh();
    const second = another(first.schema, { lockWaitMs: 50 });
    await expect(second.open()).rejects.toBeInstanceOf(DestinationBusyError);
    await expect(second.open()).rejects.toThrow(first.description);
    const elsewhere = await fresh({ lockWaitMs: 50 });
    expect(elsewhere.schema).not.toBe(first.schema);
    await first.close();
    await second.open();
    expect(await second.readState('time_entries')).toBeNull();
  });

  it('is freed when the holding session dies', async () => {
    const first = await fresh();
    const client = await admin();
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
         AND classid = hashtext('harvest-sync')::oid AND objid = hashtext($1)::oid`,
      [first.schema],
    );
    expect(rows).toHaveLength(1);
    await client.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    const second = another(first.schema);
    await second.open();
    await expect(first.readState('time_entries')).rejects.toBeInstanceOf(DestinationError);
  });
});

describe('PostgreSQL connection failures', () => {
  it('reports a refused connection in one line naming host, port and database, without the password', async () => {
    const port = await closedPort();
    const destination = new PostgresDestination(
      `postgres://postgres:hunter2-secret@127.0.0.1:${port}/test?schema=x`,
    );
    const error = await destination.open().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).not.toBeInstanceOf(DestinationBusyError);
    const { message, retryable } = error as DestinationError;
    expect(message).toMatch(/^[^\n]+$/);
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain('"test"');
    expect(message).toContain('connection refused');
    expect(message).not.toContain('hunter2');
    expect(retryable).toBe(true);
    await destination.close();
  });

  it('reports a missing database as not retryable, without the password', async () => {
    const url = new URL(PG_URL);
    url.password = 'hunter2-secret';
    url.pathname = '/no_such_database_hs';
    const destination = new PostgresDestination(url.toString());
    const error = (await destination.open().catch((e: unknown) => e)) as DestinationError;
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('does not exist');
    expect(error.message).not.toContain('hunter2');
    expect(error.retryable).toBe(false);
  });

  it('fails a batch whose connection is killed mid-write with nothing half-written', async () => {
    const destination = await fresh();
    const columns = await destination.ensureTable(timeEntriesTable);
    await destination.writeBatch(timeEntryBatch(destination, columns, [timeEntry(1)], 'before'));

    // Hold the table so the batch stops inside its transaction, after its COPY.
    const blocker = await admin();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE "${destination.schema}"."time_entries" IN ACCESS EXCLUSIVE MODE`);
    const records = Array.from({ length: 2000 }, (_, i) => timeEntry(i + 2));
    const writing = destination.writeBatch(timeEntryBatch(destination, columns, records, 'after'));
    const outcome = writing.then(
      () => null,
      (e: unknown) => e,
    );
    const watcher = await admin();
    const pid = await until(async () => {
      const { rows } = await watcher.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'harvest-sync' AND wait_event_type = 'Lock'
           AND query LIKE $1`,
        [`%${destination.schema}%`],
      );
      return rows[0]?.pid;
    }, 'the batch to wait for the table lock');
    await watcher.query('SELECT pg_terminate_backend($1)', [pid]);
    await blocker.query('ROLLBACK');

    const error = (await outcome) as DestinationError;
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toMatch(/^[^\n]+$/);
    expect(error.retryable).toBe(true);
    const { rows } = await watcher.query(
      `SELECT count(*)::int AS n FROM "${destination.schema}"."time_entries"`,
    );
    expect(rows[0].n).toBe(1);
    await expect(destination.readState('time_entries')).rejects.toBeInstanceOf(DestinationError);
    await destination.close();

    const next = another(destination.schema);
    await next.open();
    expect((await next.readState('time_entries'))?.cursor).toBe('before');
  });
});
