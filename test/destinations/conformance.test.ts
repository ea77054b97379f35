import { spawn } from 'node:child_process';
import { OWN_SCHEMA_TABLE, OWN_STEPS } from '../../src/destinations/own-schema.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { objectTables } from '../../src/catalog/schema.js';
import type { Column, JsonObject, TableSchema } from '../../src/catalog/types.js';
import type { Destination, ObjectState } from '../../src/destinations/destination.js';
import { hashId } from '../../src/sync/reports.js';
import { readJsonFixture } from '../support/fixtures.js';
import { DestinationBusyError, DestinationError } from '../../src/errors.js';
import { FACTORIES } from './factories.js';
import type { DestinationFactory, DestinationHandle } from './factories.js';
import {
  CHILD_BATCH_SIZE,
  canonical,
  catalogObject,
  countOf,
  ident,
  invoice,
  invoiceLineItemsTable,
  invoicesTable,
  state,
  timeEntriesTable,
  timeEntry,
  toChildRows,
  toRows,
} from './fixtures.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./destination-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A run in another process (see destination-child.ts), and the lines it prints. */
function startChild(factory: DestinationFactory, target: string, mode: 'hold-lock' | 'write-batches') {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, factory.name, target, mode], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  /** Resolves on the first line that matches; rejects if the child ends first. */
  const waitFor = (match: (line: string) => boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      const onLine = (line: string) => {
        if (!match(line)) return;
        lines.off('line', onLine);
        resolve(line);
      };
      lines.on('line', onLine);
      void exited.then(() => reject(new Error(`child exited before the expected line: ${stderr.trim()}`)));
    });
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return { child: child as ChildProcess, waitFor, kill };
}

const ZERO = { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
/** Counts of one table, zeros left out. */
const counts = (c: Partial<typeof ZERO>) => ({ ...ZERO, ...c });

describe.each(FACTORIES)('destination conformance: $name', (factory) => {
  let handle: DestinationHandle;
  let dest: Destination;
  const others: Destination[] = [];
  const children: Array<{ kill(): Promise<void> }> = [];

  beforeEach(async () => {
    handle = await factory.create();
    dest = handle.destination;
  });

  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill();
    for (const other of others.splice(0)) await other.close();
    await handle.cleanup();
  });

  /** Another Destination on the same database, closed after the test. */
  function attach(): Destination {
    const other = factory.attach(handle.target);
    others.push(other);
    return other;
  }

  async function rowById(table: string, id: number): Promise<Record<string, unknown>> {
    const rows = await handle.query(`SELECT * FROM ${ident(table)} WHERE "id" = ${id}`);
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  async function count(table: string, where = 'TRUE'): Promise<number> {
    return countOf(await handle.query(`SELECT count(*) AS n FROM ${ident(table)} WHERE ${where}`));
  }

  async function writeTimeEntries(
    columns: readonly Column[],
    records: JsonObject[],
    extra: { cursor?: string; sweepSince?: string } = {},
  ) {
    return dest.writeBatch({
      table: 'time_entries',
      rows: toRows(dest, columns, records),
      children: [],
      state: state('time_entries', extra.cursor ?? null),
      sweep: extra.sweepSince ? { tables: ['time_entries'], since: extra.sweepSince } : undefined,
    });
  }

  async function writeInvoices(
    columns: { invoices: readonly Column[]; items: readonly Column[] },
    invoices: JsonObject[],
    sweepSince?: string,
  ) {
    const items = invoices.flatMap((inv) =>
      toChildRows(dest, columns.items, 'invoice_id', inv.id as number, inv.line_items as JsonObject[]),
    );
    return dest.writeBatch({
      table: 'invoices',
      rows: toRows(dest, columns.invoices, invoices),
      children: [
        { table: 'invoice_line_items', parentIds: invoices.map((inv) => inv.id as number), rows: items },
      ],
      state: state('invoices', null),
      sweep: sweepSince ? { tables: ['invoices', 'invoice_line_items'], since: sweepSince } : undefined,
    });
  }

  async function openInvoices() {
    await dest.open();
    return {
      invoices: await dest.ensureTable(invoicesTable),
      items: await dest.ensureTable(invoiceLineItemsTable),
    };
  }

  describe('tables', () => {
    it('creates every catalog table with its columns and the metadata columns, idempotently', async () => {
      await dest.open();
      const tables = DEFAULT_OBJECTS.flatMap(objectTables);
      for (const table of tables) {
        const columns = await dest.ensureTable(table);
        expect(columns.map((c) => c.name)).toEqual(table.columns.map((c) => c.name));
        const info = await dest.tableInfo(table.name);
        expect(info?.rowCount).toBe(0);
        expect(new Set(info?.columns)).toEqual(
          new Set([...table.columns.map((c) => c.name), '_synced_at', '_deleted_at']),
        );
      }
      for (const table of tables) {
        expect(await dest.ensureTable(table)).toEqual(table.columns);
      }
      expect(await dest.tableInfo('no_such_table')).toBeNull();
    });

    it('adds a catalog column an existing table lacks and keeps its rows', async () => {
      await dest.open();
      const older: TableSchema = {
        ...timeEntriesTable,
        columns: timeEntriesTable.columns.filter((c) => c.name !== 'cost_rate'),
      };
      const olderColumns = await dest.ensureTable(older);
      await writeTimeEntries(olderColumns, [timeEntry(1)]);
      const columns = await dest.ensureTable(timeEntriesTable);
      expect(columns.map((c) => c.name)).toContain('cost_rate');
      expect((await dest.tableInfo('time_entries'))?.columns).toContain('cost_rate');
      const row = await rowById('time_entries', 1);
      expect(row.notes).toBe('Homepage wireframes #1');
      expect(row.cost_rate).toBeNull();
      await writeTimeEntries(columns, [timeEntry(1, { cost_rate: 75.5 })]);
      expect(canonical('decimal', (await rowById('time_entries', 1)).cost_rate)).toBe(75.5);
    });

    it('never drops a column the catalog stops declaring, and stops writing it', async () => {
      await dest.open();
      await writeTimeEntries(await dest.ensureTable(timeEntriesTable), [timeEntry(1, { cost_rate: 60 })]);
      const newer: TableSchema = {
        ...timeEntriesTable,
        columns: timeEntriesTable.columns.filter((c) => c.name !== 'cost_rate'),
      };
      const columns = await dest.ensureTable(newer);
      expect(columns.map((c) => c.name)).not.toContain('cost_rate');
      expect((await dest.tableInfo('time_entries'))?.columns).toContain('cost_rate');
      await writeTimeEntries(columns, [timeEntry(1, { notes: 'changed' })]);
      const row = await rowById('time_entries', 1);
      expect(row.notes).toBe('changed');
      expect(canonical('decimal', row.cost_rate)).toBe(60);
    });

    it('leaves a column a user added by hand alone', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1)]);
      await handle.query(`ALTER TABLE "time_entries" ADD COLUMN "my_note" TEXT`);
      await handle.query(`UPDATE "time_entries" SET "my_note" = 'keep me' WHERE "id" = 1`);
      const again = await dest.ensureTable(timeEntriesTable);
      expect(again.map((c) => c.name)).not.toContain('my_note');
      const result = await writeTimeEntries(again, [timeEntry(1, { notes: 'updated' })]);
      expect(result.tables.time_entries).toEqual(counts({ updated: 1 }));
      const row = await rowById('time_entries', 1);
      expect(row.my_note).toBe('keep me');
      expect(row.notes).toBe('updated');
    });

    it('refuses a write to a table ensureTable has not prepared', async () => {
      await dest.open();
      await expect(
        dest.writeBatch({
          table: 'time_entries',
          rows: [],
          children: [],
          state: state('time_entries', null),
        }),
      ).rejects.toBeInstanceOf(DestinationError);
    });
  });

  describe('upserts', () => {
    it('inserts new ids, updates known ones and counts each', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const first = await writeTimeEntries(columns, [timeEntry(1), timeEntry(2)]);
      expect(first.tables.time_entries).toEqual(counts({ inserted: 2 }));
      const second = await writeTimeEntries(columns, [timeEntry(2, { notes: 'edited' }), timeEntry(3)]);
      expect(second.tables.time_entries).toEqual(counts({ inserted: 1, updated: 1 }));
      expect(await count('time_entries')).toBe(3);
      expect((await rowById('time_entries', 2)).notes).toBe('edited');
      expect((await dest.tableInfo('time_entries'))?.rowCount).toBe(3);
    });

    it('counts an id repeated within one batch once as new, its earlier copy as unchanged, and keeps its last version', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const result = await writeTimeEntries(columns, [timeEntry(7), timeEntry(7, { notes: 'second copy' })]);
      expect(result.tables.time_entries).toEqual(counts({ inserted: 1, unchanged: 1 }));
      expect(await count('time_entries')).toBe(1);
      expect((await rowById('time_entries', 7)).notes).toBe('second copy');
    });

    it('stamps _synced_at at the write and leaves _deleted_at null', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const before = await dest.now();
      await writeTimeEntries(columns, [timeEntry(1)]);
      const after = await dest.now();
      const row = await rowById('time_entries', 1);
      const syncedAt = canonical('timestamp', row._synced_at) as string;
      expect(syncedAt >= before && syncedAt < after).toBe(true);
      expect(row._deleted_at).toBeNull();
    });
  });

  describe('counts', () => {
    it('counts rows written again as they are as unchanged, and still stamps them', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const records = [timeEntry(1), timeEntry(2), timeEntry(3, { notes: null, hours: 0.1 })];
      expect((await writeTimeEntries(columns, records)).tables.time_entries).toEqual(counts({ inserted: 3 }));
      const since = await dest.now();
      const again = await writeTimeEntries(columns, records);
      expect(again.tables.time_entries).toEqual(counts({ unchanged: 3 }));
      // stamped like every row a pass writes: countWritten sees them, a sweep leaves them alone
      expect(await dest.countWritten('time_entries', { since })).toBe(3);
      const swept = await writeTimeEntries(columns, [], { sweepSince: since });
      expect(swept.tables.time_entries).toEqual(ZERO);
      expect(await count('time_entries', '"_deleted_at" IS NULL')).toBe(3);
    });

    // [field, stored value, value written again, whether that is a change]; undefined: field absent
    const timeEntryCases: Array<[string, unknown, unknown, boolean]> = [
      ['hours', 0.3, 0.1 + 0.2, true], // 0.30000000000000004
      ['hours', 2.58, 2.58, false],
      ['cost_rate', 100, 100.0, false],
      ['cost_rate', null, 0, true],
      ['billable_rate', 19.99, 19.990000000000002, true],
      ['notes', null, '', true],
      ['notes', null, undefined, false],
      ['notes', 'a', 'A', true],
      ['notes', 'x', 'x ', true],
      ['notes', 'naïve 🎉', 'naïve 🎉', false],
      ['is_locked', false, null, true],
      ['is_locked', true, true, false],
      ['spent_date', '2024-02-29', '2024-03-01', true],
      ['timer_started_at', '2024-02-29T23:59:58Z', '2024-02-29T23:59:58Z', false],
      ['timer_started_at', '2024-02-29T23:59:58Z', '2024-02-29T23:59:59Z', true],
      ['user', { id: 9007199254, name: 'Big Id' }, { id: 9007199254, name: 'Big Id' }, false],
      ['user', { id: 9007199254, name: 'Big Id' }, { id: 9007199254, name: 'Big  Id' }, true],
      ['invoice', { id: 2999999999, number: '1' }, { id: 2999999998, number: '1' }, true],
      ['invoice', { id: 2999999999, number: '1' }, null, true],
    ];

    it('tells a changed value from an equal one exactly: decimals, text, booleans, dates, NULL and absent', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const withField = (id: number, field: string, value: unknown): JsonObject => {
        const record = timeEntry(id);
        if (value === undefined) delete record[field];
        else record[field] = value as JsonObject[string];
        return record;
      };
      for (const [i, [field, before, after, changed]] of timeEntryCases.entries()) {
        await writeTimeEntries(columns, [withField(i + 1, field, before)]);
        const result = await writeTimeEntries(columns, [withField(i + 1, field, after)]);
        const what = `${field}: ${JSON.stringify(before)} then ${JSON.stringify(after)}`;
        expect([what, result.tables.time_entries]).toEqual([
          what,
          counts(changed ? { updated: 1 } : { unchanged: 1 }),
        ]);
      }
    });

    it('compares JSON arrays exactly: order, empty against NULL', async () => {
      const columns = await openInvoices();
      const cases: Array<[unknown, unknown, boolean]> = [
        [['credit_card', 'ach'], ['credit_card', 'ach'], false],
        [['credit_card', 'ach'], ['ach', 'credit_card'], true],
        [['ach'], [], true],
        [[], null, true],
        [null, undefined, false],
      ];
      for (const [i, [before, after, changed]] of cases.entries()) {
        const withOptions = (value: unknown): JsonObject => {
          const record = invoice(100 + i, [1000 + i]);
          if (value === undefined) delete record.payment_options;
          else record.payment_options = value as JsonObject[string];
          return record;
        };
        await writeInvoices(columns, [withOptions(before)]);
        const result = await writeInvoices(columns, [withOptions(after)]);
        const what = `${JSON.stringify(before)} then ${JSON.stringify(after)}`;
        expect([what, result.tables.invoices]).toEqual([
          what,
          counts(changed ? { updated: 1 } : { unchanged: 1 }),
        ]);
        expect(result.tables.invoice_line_items).toEqual(counts({ unchanged: 1 }));
      }
    });

    it('counts a row marked deleted that comes back with the same values as updated', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1), timeEntry(2)]);
      const since = await dest.now();
      const swept = await writeTimeEntries(columns, [timeEntry(1)], { sweepSince: since });
      expect(swept.tables.time_entries).toEqual(counts({ unchanged: 1, deleted: 1 }));
      const back = await writeTimeEntries(columns, [timeEntry(2)]);
      expect(back.tables.time_entries).toEqual(counts({ updated: 1 }));
      expect((await rowById('time_entries', 2))._deleted_at).toBeNull();
    });

    it('counts the copies of an id repeated in a batch by its last copy, the others as unchanged', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(7)]);
      const twice = await writeTimeEntries(columns, [
        timeEntry(7, { notes: 'b' }),
        timeEntry(7, { notes: 'b' }),
      ]);
      expect(twice.tables.time_entries).toEqual(counts({ updated: 1, unchanged: 1 }));
      const back = await writeTimeEntries(columns, [
        timeEntry(7, { notes: 'c' }),
        timeEntry(7, { notes: 'b' }),
      ]);
      expect(back.tables.time_entries).toEqual(counts({ unchanged: 2 }));
      expect((await rowById('time_entries', 7)).notes).toBe('b');
    });

    it('compares columns added for new fields, and never a column a user added by hand', async () => {
      await dest.open();
      await writeTimeEntries(await dest.ensureTable(timeEntriesTable), [timeEntry(1)]);
      const columns = await dest.addColumns('time_entries', [
        { name: 'approval_note', type: 'text', path: ['approval_note'] },
      ]);
      const noted = timeEntry(1, { approval_note: 'ok' });
      expect((await writeTimeEntries(columns, [noted])).tables.time_entries).toEqual(counts({ updated: 1 }));
      await handle.query(`ALTER TABLE "time_entries" ADD COLUMN "my_note" TEXT`);
      await handle.query(`UPDATE "time_entries" SET "my_note" = 'mine' WHERE "id" = 1`);
      expect((await writeTimeEntries(columns, [noted])).tables.time_entries).toEqual(
        counts({ unchanged: 1 }),
      );
      expect((await rowById('time_entries', 1)).my_note).toBe('mine');
    });
  });

  describe('values', () => {
    const hostileText = [
      'naïve café — 日本語 — emoji 🎉👩‍💻',
      `it's "quoted" \\ backslashed`,
      "'; DROP TABLE time_entries; --",
      'line one\nline two\r\nline three\ttabbed',
    ];

    it('round-trips decimals, 10-digit ids, booleans, dates, times and timestamps exactly', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const record = timeEntry(2380504951, {
        hours: 0.1,
        billable_rate: 19.99,
        cost_rate: 100,
        rounded_hours: 0.3,
        is_locked: true,
        is_running: false,
        spent_date: '2024-02-29',
        started_time: '2:59pm',
        timer_started_at: '2024-02-29T23:59:58Z',
        user: { id: 9007199254, name: 'Big Id' },
        invoice: { id: 2999999999, number: '0042' },
      });
      await writeTimeEntries(columns, [record]);
      const row = await rowById('time_entries', 2380504951);
      const expected: Record<string, unknown> = {
        id: '2380504951',
        hours: 0.1,
        billable_rate: 19.99,
        cost_rate: 100,
        rounded_hours: 0.3,
        is_locked: true,
        is_running: false,
        spent_date: '2024-02-29',
        started_time: '2:59pm',
        timer_started_at: '2024-02-29T23:59:58.000Z',
        user_id: '9007199254',
        invoice_id: '2999999999',
        invoice_number: '0042',
      };
      for (const [name, value] of Object.entries(expected)) {
        const column = columns.find((c) => c.name === name)!;
        expect([name, canonical(column.type, row[name])]).toEqual([name, value]);
      }
    });

    it('keeps text byte-exact: unicode, emoji, quotes, SQL, newlines and very long text', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const long = 'x'.repeat(200_000) + '🎉' + 'y'.repeat(1000);
      const texts = [...hostileText, long, ''];
      await writeTimeEntries(
        columns,
        texts.map((notes, i) => timeEntry(i + 1, { notes })),
      );
      for (const [i, notes] of texts.entries()) {
        expect((await rowById('time_entries', i + 1)).notes).toBe(notes);
      }
      expect(await count('time_entries')).toBe(texts.length);
    });

    it('stores JSON arrays as JSON', async () => {
      await dest.open();
      const users = objectTables(DEFAULT_OBJECTS.find((o) => o.name === 'users')!)[0];
      const columns = await dest.ensureTable(users);
      const roles = ['Design', 'Ops "night"', '🎉', "'; --"];
      await dest.writeBatch({
        table: 'users',
        rows: toRows(dest, columns, [
          { id: 1, first_name: 'A', roles, access_roles: [] },
          { id: 2, first_name: 'B', roles: null },
        ]),
        children: [],
        state: state('users', null),
      });
      expect(canonical('json', (await rowById('users', 1)).roles)).toEqual(roles);
      expect(canonical('json', (await rowById('users', 1)).access_roles)).toEqual([]);
      expect((await rowById('users', 2)).roles).toBeNull();
    });

    it('stores a null or missing nested object as nulls in all its columns', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const withoutTask = timeEntry(2);
      delete withoutTask.task;
      await writeTimeEntries(columns, [
        timeEntry(1, { invoice: null, external_reference: null }),
        withoutTask,
      ]);
      const first = await rowById('time_entries', 1);
      for (const name of [
        'invoice_id',
        'invoice_number',
        'external_reference_id',
        'external_reference_permalink',
      ]) {
        expect([name, first[name]]).toEqual([name, null]);
      }
      const second = await rowById('time_entries', 2);
      expect([second.task_id, second.task_name]).toEqual([null, null]);
      expect(canonical('bigint', second.user_id)).toBe('3300002');
    });
  });

  describe('schema drift', () => {
    const added: Column[] = [
      { name: 'approval_note', type: 'text', path: ['approval_note'] },
      { name: 'meta_score', type: 'decimal', path: ['meta', 'score'] },
      { name: 'tag_ids', type: 'json', path: ['tag_ids'] },
    ];

    it('adds columns for undeclared fields, keeps the data and remembers them after a re-open', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1)]);
      const widened = await dest.addColumns('time_entries', added);
      expect(widened).toEqual([...timeEntriesTable.columns, ...added]);
      await writeTimeEntries(widened, [
        timeEntry(2, { approval_note: 'ok', meta: { score: 0.1 }, tag_ids: [3, 4] }),
      ]);
      await dest.close();

      const reopened = attach();
      await reopened.open();
      expect(await reopened.ensureTable(timeEntriesTable)).toEqual([...timeEntriesTable.columns, ...added]);
      const old = await rowById('time_entries', 1);
      expect(old.notes).toBe('Homepage wireframes #1');
      expect(old.approval_note).toBeNull();
      const row = await rowById('time_entries', 2);
      expect(row.approval_note).toBe('ok');
      expect(canonical('decimal', row.meta_score)).toBe(0.1);
      expect(canonical('json', row.tag_ids)).toEqual([3, 4]);
    });

    it('adds a column once however often it is asked', async () => {
      await dest.open();
      await dest.ensureTable(timeEntriesTable);
      await dest.addColumns('time_entries', added.slice(0, 1));
      const again = await dest.addColumns('time_entries', added);
      expect(again).toEqual([...timeEntriesTable.columns, ...added]);
      const info = await dest.tableInfo('time_entries');
      expect(info?.columns.filter((c) => c === 'approval_note')).toHaveLength(1);
    });
  });

  describe('deletions', () => {
    it('marks child rows missing from their parent as deleted, and only those', async () => {
      const columns = await openInvoices();
      const first = await writeInvoices(columns, [invoice(10, [101, 102, 103]), invoice(20, [201])]);
      expect(first.tables.invoices).toEqual(counts({ inserted: 2 }));
      expect(first.tables.invoice_line_items).toEqual(counts({ inserted: 4 }));

      const second = await writeInvoices(columns, [invoice(10, [101, 104])]);
      // the invoice's own row is as it was; of its items, one is new, one as it was, two gone
      expect(second.tables.invoices).toEqual(counts({ unchanged: 1 }));
      expect(second.tables.invoice_line_items).toEqual(counts({ inserted: 1, unchanged: 1, deleted: 2 }));
      expect(await count('invoice_line_items', '"_deleted_at" IS NOT NULL')).toBe(2);
      for (const id of [102, 103])
        expect((await rowById('invoice_line_items', id))._deleted_at).not.toBeNull();
      for (const id of [101, 104, 201])
        expect((await rowById('invoice_line_items', id))._deleted_at).toBeNull();
      expect(canonical('bigint', (await rowById('invoice_line_items', 104)).invoice_id)).toBe('10');

      const third = await writeInvoices(columns, [invoice(10, [101, 102, 104])]);
      // 102 comes back (updated: undeleted), 101 and 104 are as they were
      expect(third.tables.invoice_line_items).toEqual(counts({ updated: 1, unchanged: 2 }));
      expect((await rowById('invoice_line_items', 102))._deleted_at).toBeNull();
    });

    it('sweeps rows a full pass did not write, and undeletes a row written again', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1), timeEntry(2), timeEntry(3)]);
      const since = await dest.now();
      await writeTimeEntries(columns, [timeEntry(1)]);
      const last = await writeTimeEntries(columns, [timeEntry(2)], { sweepSince: since });
      expect(last.tables.time_entries).toEqual(counts({ unchanged: 1, deleted: 1 }));
      expect((await rowById('time_entries', 3))._deleted_at).not.toBeNull();
      expect(await count('time_entries', '"_deleted_at" IS NULL')).toBe(2);

      const back = await writeTimeEntries(columns, [timeEntry(3, { notes: 'restored' })]);
      expect(back.tables.time_entries).toEqual(counts({ updated: 1 }));
      const row = await rowById('time_entries', 3);
      expect([row._deleted_at, row.notes]).toEqual([null, 'restored']);
    });

    it('sweeps a row written just before now() and never one written just after it', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      // Back to back, these usually fall in one millisecond: the bound must still split them.
      await writeTimeEntries(columns, [timeEntry(1)]);
      const since = await dest.now();
      const result = await writeTimeEntries(columns, [timeEntry(2)], { sweepSince: since });
      expect(result.tables.time_entries).toEqual(counts({ inserted: 1, deleted: 1 }));
      expect((await rowById('time_entries', 1))._deleted_at).not.toBeNull();
      expect((await rowById('time_entries', 2))._deleted_at).toBeNull();
    });

    it('counts the rows written since a now(), within a date range and leaving ids out', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1, { spent_date: '2024-05-01' })]);
      const since = await dest.now();
      await writeTimeEntries(columns, [
        timeEntry(2, { spent_date: '2024-05-01' }),
        timeEntry(3, { spent_date: '2024-05-10' }),
        timeEntry(4, { spent_date: '2024-05-31' }),
        timeEntry(5, { spent_date: '2024-06-01' }),
      ]);
      expect(await dest.countWritten('time_entries', { since })).toBe(4);
      const may = { column: 'spent_date', from: '2024-05-01', to: '2024-05-31' };
      expect(await dest.countWritten('time_entries', { since, range: may })).toBe(3);
      expect(await dest.countWritten('time_entries', { since, range: may, exceptIds: [3, 5, 99] })).toBe(2);
      // a row written before `since` counts once it is written again
      await writeTimeEntries(columns, [timeEntry(1, { spent_date: '2024-05-01' })]);
      expect(await dest.countWritten('time_entries', { since, range: may })).toBe(4);
      expect(await dest.countWritten('time_entries', { since: await dest.now() })).toBe(0);
      // an open bound (the oldest date window has no `from`, the newest no `to`)
      const upTo = { column: 'spent_date', to: '2024-05-10' };
      expect(await dest.countWritten('time_entries', { since, range: upTo })).toBe(3);
      const onwards = { column: 'spent_date', from: '2024-05-10' };
      expect(await dest.countWritten('time_entries', { since, range: onwards })).toBe(3);
    });

    it('lists the live rows not written since a now(), lowest id first, at most as many as asked', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(7), timeEntry(3), timeEntry(5), timeEntry(9)]);
      const gone = await dest.now();
      await writeTimeEntries(columns, [timeEntry(1)], { sweepSince: gone }); // 3, 5, 7, 9 marked deleted
      const since = await dest.now();
      await writeTimeEntries(columns, [timeEntry(5), timeEntry(2), timeEntry(8)]);
      expect(await dest.unwrittenIds('time_entries', since, 10)).toEqual([1]);
      const later = await dest.now();
      expect(await dest.unwrittenIds('time_entries', later, 10)).toEqual([1, 2, 5, 8]);
      expect(await dest.unwrittenIds('time_entries', later, 2)).toEqual([1, 2]);
    });

    it('counts, among given ids, the rows written since a now()', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      await writeTimeEntries(columns, [timeEntry(1), timeEntry(2)]);
      const since = await dest.now();
      await writeTimeEntries(columns, [timeEntry(2), timeEntry(3), timeEntry(4)]);
      expect(await dest.countWritten('time_entries', { since, ids: [1, 2, 3, 99] })).toBe(2);
      expect(await dest.countWritten('time_entries', { since, ids: [] })).toBe(0);
    });

    // MySQL does not count fresh rows (the engine then counts in the table at the end of a list)
    it.runIf(factory.name !== 'mysql')(
      'reports the rows a batch stamps that nothing had stamped since freshSince, repeats once',
      async () => {
        await dest.open();
        const columns = await dest.ensureTable(timeEntriesTable);
        await writeTimeEntries(columns, [timeEntry(1), timeEntry(2)]);
        const since = await dest.now();
        const write = (records: JsonObject[]) =>
          dest.writeBatch({
            table: 'time_entries',
            rows: toRows(dest, columns, records),
            children: [],
            state: state('time_entries', null),
            freshSince: since,
          });
        // 1 stamped before `since`, 3 new, 3 repeated within the batch
        const first = await write([timeEntry(1), timeEntry(3), timeEntry(3, { notes: 'again' })]);
        expect(first.tables.time_entries).toEqual({ ...counts({ inserted: 1, unchanged: 2 }), fresh: 2 });
        // 1 and 3 were stamped since; 2 (changed) was not, 5 is new
        const second = await write([
          timeEntry(1),
          timeEntry(2, { notes: 'edited' }),
          timeEntry(3),
          timeEntry(5),
        ]);
        expect(second.tables.time_entries.fresh).toBe(2);
        expect(second.tables.time_entries).toMatchObject({ inserted: 1, updated: 2, unchanged: 1 });
      },
    );

    it('sweeps child rows together with their parents', async () => {
      const columns = await openInvoices();
      await writeInvoices(columns, [invoice(10, [101]), invoice(20, [201, 202])]);
      const since = await dest.now();
      const result = await writeInvoices(columns, [invoice(10, [101])], since);
      expect(result.tables.invoices.deleted).toBe(1);
      expect(result.tables.invoice_line_items.deleted).toBe(2);
      expect(await count('invoice_line_items', '"_deleted_at" IS NULL')).toBe(1);
    });
  });

  describe('state', () => {
    it('keeps its own tables at the last numbered step, recorded in _harvest_sync_schema', async () => {
      await dest.open();
      const steps = await handle.query(
        `SELECT "version", "description" FROM ${ident(OWN_SCHEMA_TABLE)} ORDER BY "version"`,
      );
      expect(steps.map((r) => [Number(r.version), r.description])).toEqual([[1, OWN_STEPS[1]]]);
      await dest.close();
      // opened again: nothing applied twice
      const again = attach();
      await again.open();
      await again.close();
      expect(await count(OWN_SCHEMA_TABLE)).toBe(1);
      // a destination set up by a newer harvest-sync is refused, with a message saying so
      await handle.query(
        `INSERT INTO ${ident(OWN_SCHEMA_TABLE)} ("version", "description", "applied_at") VALUES (99, 'from the future', '2099-01-01 00:00:00')`,
      );
      await expect(attach().open()).rejects.toThrow(
        /was set up by a newer harvest-sync \(its own tables at version 99, this one knows up to 1\): upgrade harvest-sync/,
      );
    });

    it('has no state for an object never written, then the state of the last batch', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      expect(await dest.readState('time_entries')).toBeNull();
      const next = 'https://api.harvestapp.com/v2/time_entries?page=2&per_page=2000';
      const pass = {
        mode: 'full' as const,
        startedAt: '2024-06-01T10:00:00Z',
        streams: [
          { from: '2024-01-01', firstUrl: next.replace('page=2&', ''), nextUrl: next, totalEntries: 4 },
        ],
        sweepSince: '2024-06-01T10:00:01.000Z',
      };
      await dest.writeBatch({
        table: 'time_entries',
        rows: toRows(dest, columns, [timeEntry(1)]),
        children: [],
        state: state('time_entries', '2024-05-01T00:00:00Z', {
          pass,
          lastFullPassAt: '2024-05-01T00:00:05Z',
        }),
      });
      expect(await dest.readState('time_entries')).toEqual({
        object: 'time_entries',
        cursor: '2024-05-01T00:00:00Z',
        pass,
        lastFullPassAt: '2024-05-01T00:00:05Z',
      });
      await writeTimeEntries(columns, [], { cursor: '2024-06-01T10:00:00Z' });
      expect(await dest.readState('time_entries')).toEqual(state('time_entries', '2024-06-01T10:00:00Z'));
      expect(await dest.readState('invoices')).toBeNull();
    });

    it('leaves rows, children and state untouched when a batch fails part-way', async () => {
      const columns = await openInvoices();
      await writeInvoices(columns, [invoice(10, [101, 102])]);
      await dest.writeBatch({
        table: 'invoices',
        rows: [],
        children: [],
        state: state('invoices', 'committed'),
      });
      const since = await dest.now();
      const good = invoice(10, [101, 103], { subject: 'must not land' });
      const failing = dest.writeBatch({
        table: 'invoices',
        rows: [
          ...toRows(dest, columns.invoices, [good, invoice(30, [])]),
          // Fails on the last parent row, after the others were written in the transaction.
          toRows(dest, columns.invoices, [invoice(40, [])]).map((row) =>
            row.map((v, i) => (columns.invoices[i].name === 'id' ? 'not-a-number' : v)),
          )[0],
        ],
        children: [
          {
            table: 'invoice_line_items',
            parentIds: [10],
            rows: toChildRows(dest, columns.items, 'invoice_id', 10, good.line_items as JsonObject[]),
          },
        ],
        state: state('invoices', 'must not be saved'),
        sweep: { tables: ['invoices', 'invoice_line_items'], since },
      });
      await expect(failing).rejects.toBeInstanceOf(DestinationError);
      await expect(failing).rejects.toThrow(/^[^\n]+$/);

      expect((await dest.readState('invoices'))?.cursor).toBe('committed');
      expect(await count('invoices')).toBe(1);
      expect((await rowById('invoices', 10)).subject).toBe('May retainer');
      expect(await count('invoice_line_items')).toBe(2);
      expect(await count('invoices', '"_deleted_at" IS NOT NULL')).toBe(0);
      expect(await count('invoice_line_items', '"_deleted_at" IS NOT NULL')).toBe(0);

      // The destination is still usable after the failure.
      await writeInvoices(columns, [invoice(30, [301])]);
      expect(await count('invoices')).toBe(2);
    });

    it('rolls back a batch whose child row fails, parent rows included', async () => {
      const columns = await openInvoices();
      const rows = toChildRows(dest, columns.items, 'invoice_id', 50, [{ id: 501 }, { id: 502 }]);
      const idIndex = columns.items.findIndex((c) => c.name === 'id');
      rows[1][idIndex] = 'bad id';
      await expect(
        dest.writeBatch({
          table: 'invoices',
          rows: toRows(dest, columns.invoices, [invoice(50, [])]),
          children: [{ table: 'invoice_line_items', parentIds: [50], rows }],
          state: state('invoices', 'must not be saved'),
        }),
      ).rejects.toBeInstanceOf(DestinationError);
      expect(await count('invoices')).toBe(0);
      expect(await count('invoice_line_items')).toBe(0);
      expect(await dest.readState('invoices')).toBeNull();
    });

    it('refuses a row whose width does not match the table, writing nothing', async () => {
      await dest.open();
      const columns = await dest.ensureTable(timeEntriesTable);
      const rows = toRows(dest, columns, [timeEntry(1), timeEntry(2)]);
      rows[1] = rows[1].slice(1);
      await expect(
        dest.writeBatch({ table: 'time_entries', rows, children: [], state: state('time_entries', 'x') }),
      ).rejects.toBeInstanceOf(DestinationError);
      expect(await count('time_entries')).toBe(0);
      expect(await dest.readState('time_entries')).toBeNull();
    });

    it('keeps the last committed batch and its state when the run is killed with SIGKILL', async () => {
      const run = startChild(factory, handle.target, 'write-batches');
      children.push(run);
      await run.waitFor((line) => line === 'committed 3');
      await run.kill();

      await dest.open();
      await dest.ensureTable(timeEntriesTable);
      const saved = await dest.readState('time_entries');
      const batches = Number(saved?.cursor);
      expect(batches).toBeGreaterThanOrEqual(3);
      // Rows and state moved together: exactly the rows of the batches the state counts.
      expect(await count('time_entries')).toBe(batches * CHILD_BATCH_SIZE);
      expect(countOf(await handle.query(`SELECT max("id") AS m FROM "time_entries"`))).toBe(
        batches * CHILD_BATCH_SIZE,
      );
    });
  });

  describe('run lock', () => {
    it('refuses a second open while a run holds the destination, and allows it after close', async () => {
      await dest.open();
      const second = attach();
      const busy = second.open();
      await expect(busy).rejects.toBeInstanceOf(DestinationBusyError);
      await expect(busy).rejects.toThrow(/another run is writing to/);
      await dest.close();
      await dest.close();
      await second.open();
      expect(await second.readState('time_entries')).toBeNull();
    });

    it('is held across processes and released by the death of a run killed with SIGKILL', async () => {
      const run = startChild(factory, handle.target, 'hold-lock');
      children.push(run);
      await run.waitFor((line) => line === 'open');
      await expect(dest.open()).rejects.toBeInstanceOf(DestinationBusyError);
      await run.kill();
      await dest.open();
      await dest.ensureTable(timeEntriesTable);
    });
  });

  describe('identifiers', () => {
    it('quotes hostile table and column names so they can neither break nor inject SQL', async () => {
      await dest.open();
      await dest.ensureTable(timeEntriesTable);
      const names = ['we"ird', "'; DROP TABLE time_entries; --", 'select', 'a b', 'naïve ☃', 'x) --'];
      const hostile: TableSchema = {
        name: 'tbl"; DROP TABLE "time_entries"; --',
        primaryKey: 'id',
        columns: [
          { name: 'id', type: 'bigint', path: ['id'] },
          ...names.map((name) => ({ name, type: 'text' as const, path: [name] })),
        ],
      };
      const columns = await dest.ensureTable(hostile);
      const record: JsonObject = { id: 1, ...Object.fromEntries(names.map((n) => [n, `value of ${n}`])) };
      await dest.writeBatch({
        table: hostile.name,
        rows: toRows(dest, columns, [record]),
        children: [],
        state: state(hostile.name, null),
      });
      const extra: Column = { name: 'new"); DROP TABLE x; --', type: 'text', path: ['extra'] };
      const widened = await dest.addColumns(hostile.name, [extra]);
      await dest.writeBatch({
        table: hostile.name,
        rows: toRows(dest, widened, [{ ...record, extra: 'added' }]),
        children: [],
        state: state(hostile.name, null),
      });

      const row = await rowById(hostile.name, 1);
      for (const name of names) expect(row[name]).toBe(`value of ${name}`);
      expect(row[extra.name]).toBe('added');
      expect((await dest.tableInfo(hostile.name))?.columns).toContain(extra.name);
      expect(await dest.tableInfo('time_entries')).not.toBeNull();
    });
  });

  it('runs calls made concurrently one at a time, so their transactions never interleave', async () => {
    const columns = await openInvoices();
    const entryColumns = await dest.ensureTable(timeEntriesTable);
    const writes = Array.from({ length: 6 }, (_, i) =>
      i % 2 === 0
        ? writeTimeEntries(entryColumns, [timeEntry(i + 1)], { cursor: `c${i}` })
        : dest.writeBatch({
            table: 'invoices',
            rows: toRows(dest, columns.invoices, [invoice(i + 1, [])]),
            children: [],
            state: state('invoices', `c${i}`),
          }),
    );
    const results = await Promise.all(writes);
    expect(results.map((r) => Object.values(r.tables)[0].inserted)).toEqual([1, 1, 1, 1, 1, 1]);
    expect((await dest.readState('time_entries'))?.cursor).toBe('c4');
    expect((await dest.readState('invoices'))?.cursor).toBe('c5');
  });

  describe('objects listed per parent, the company and reports', () => {
    const [messagesTable, recipientsTable] = objectTables(catalogObject('invoice_messages'));
    const [companyTable] = objectTables(catalogObject('company'));
    const [reportTable] = objectTables(catalogObject('report_time_clients'));
    const example = readJsonFixture<{ invoice_messages: JsonObject[] }>(
      'harvest-examples/invoice_messages.json',
    ).invoice_messages[0];

    /** A message of invoice `invoiceId` as the engine maps it: its invoice's id, recipients by position. */
    const message = (id: number, invoiceId: number, recipients: number) => ({
      ...example,
      id,
      invoice_id: invoiceId,
      recipients: Array.from({ length: recipients }, (_, i) => ({
        id: id * 1000 + i,
        name: `Recipient ${i}`,
        email: `r${i}@example.com`,
      })),
    });

    /** One page of the per-parent object: the messages of `invoiceIds`, written as their invoices' records. */
    async function writeMessages(
      columns: { messages: readonly Column[]; recipients: readonly Column[] },
      invoiceIds: number[],
      messages: JsonObject[],
    ) {
      const recipients = messages.flatMap((m) =>
        toChildRows(
          dest,
          columns.recipients,
          'invoice_message_id',
          m.id as number,
          m.recipients as JsonObject[],
        ),
      );
      return dest.writeBatch({
        table: 'invoice_messages',
        rows: [],
        children: [
          {
            table: 'invoice_messages',
            parentIds: invoiceIds,
            rows: toRows(dest, columns.messages, messages),
          },
          {
            table: 'invoice_message_recipients',
            parentIds: messages.map((m) => m.id as number),
            rows: recipients,
          },
        ],
        state: state('invoice_messages', null),
      });
    }

    it('keeps a per-parent object’s rows with their parent’s id, and marks those gone when the parent is read', async () => {
      await dest.open();
      const columns = {
        messages: await dest.ensureTable(messagesTable),
        recipients: await dest.ensureTable(recipientsTable),
      };
      const first = await writeMessages(
        columns,
        [10, 20],
        [message(1, 10, 2), message(2, 10, 1), message(3, 20, 1)],
      );
      expect(first.tables.invoice_messages).toEqual(counts({ inserted: 3 }));
      expect(first.tables.invoice_message_recipients).toEqual(counts({ inserted: 4 }));
      expect(canonical('bigint', (await rowById('invoice_messages', 3)).invoice_id)).toBe('20');

      // invoice 10 read again: message 2 is gone, message 1 lost a recipient; invoice 20 not read
      const second = await writeMessages(columns, [10], [message(1, 10, 1)]);
      expect(second.tables.invoice_messages).toEqual(counts({ unchanged: 1, deleted: 1 }));
      expect(second.tables.invoice_message_recipients).toEqual(counts({ unchanged: 1, deleted: 1 }));
      expect((await rowById('invoice_messages', 2))._deleted_at).not.toBeNull();
      expect((await rowById('invoice_message_recipients', 1001))._deleted_at).not.toBeNull();
      for (const id of [1, 3]) expect((await rowById('invoice_messages', id))._deleted_at).toBeNull();
      // the recipients of a message that went are left to the sweep of the next full pass
      expect((await rowById('invoice_message_recipients', 2000))._deleted_at).toBeNull();
      expect((await rowById('invoice_message_recipients', 3000))._deleted_at).toBeNull();

      // an invoice read with no messages at all has every message marked
      const third = await writeMessages(columns, [20], []);
      expect(third.tables.invoice_messages).toEqual(counts({ deleted: 1 }));
      expect(await count('invoice_messages', '"_deleted_at" IS NULL')).toBe(1);
    });

    it('keeps the company as one row, replaced when it changes', async () => {
      await dest.open();
      const columns = await dest.ensureTable(companyTable);
      const company = { id: 1000001, ...readJsonFixture<JsonObject>('harvest-examples/company.json') };
      const write = (record: JsonObject) =>
        dest.writeBatch({
          table: 'company',
          rows: toRows(dest, columns, [record]),
          children: [],
          state: state('company', null),
        });
      expect((await write(company)).tables.company).toEqual(counts({ inserted: 1 }));
      expect((await write(company)).tables.company).toEqual(counts({ unchanged: 1 }));
      expect((await write({ ...company, name: 'Renamed Ltd' })).tables.company).toEqual(
        counts({ updated: 1 }),
      );
      const rows = await handle.query(`SELECT "id", "name" FROM ${ident('company')}`);
      expect(rows.map((r) => [canonical('bigint', r.id), r.name])).toEqual([['1000001', 'Renamed Ltd']]);
    });

    it('replaces a report’s window exactly by its rows’ keys, and leaves other windows alone', async () => {
      await dest.open();
      const columns = await dest.ensureTable(reportTable);
      const results = readJsonFixture<{ results: JsonObject[] }>(
        'harvest-examples/report_time_clients.json',
      ).results;
      /** A window's rows as the engine builds them: the window's bounds and an id from them and the key. */
      const windowRows = (from: string, to: string, rows: JsonObject[]) =>
        rows.map((row) => ({
          id: hashId([from, to, row.client_id, row.currency]),
          window_id: Number(from.replaceAll('-', '')),
          from,
          to,
          ...row,
        }));
      const write = (from: string, to: string, rows: JsonObject[]) => {
        const records = windowRows(from, to, rows);
        return dest.writeBatch({
          table: 'report_time_clients',
          rows: [],
          children: [
            {
              table: 'report_time_clients',
              parentIds: [Number(from.replaceAll('-', ''))],
              rows: toRows(dest, columns, records),
            },
          ],
          state: state('report_time_clients', null),
        });
      };
      expect((await write('2024-03-01', '2025-02-28', results)).tables.report_time_clients).toEqual(
        counts({ inserted: 2 }),
      );
      expect((await write('2025-03-01', '2026-02-28', results)).tables.report_time_clients).toEqual(
        counts({ inserted: 2 }),
      );
      // the current window again: one client's hours moved, the other client no longer in it
      const again = await write('2025-03-01', '2026-02-28', [{ ...results[0], total_hours: 70.5 }]);
      expect(again.tables.report_time_clients).toEqual(counts({ updated: 1, deleted: 1 }));
      const live = await handle.query(
        `SELECT "from", "total_hours" FROM ${ident('report_time_clients')} WHERE "_deleted_at" IS NULL ORDER BY "id"`,
      );
      expect(live.map((r) => canonical('date', r.from)).sort()).toEqual([
        '2024-03-01',
        '2024-03-01',
        '2025-03-01',
      ]);
      const [current] = windowRows('2025-03-01', '2026-02-28', [results[0]]);
      const row = await rowById('report_time_clients', current.id);
      expect([canonical('decimal', row.total_hours), row._deleted_at]).toEqual([70.5, null]);
    });

    it('keeps a report’s first date with its state, with and without a pass under way', async () => {
      await dest.open();
      const columns = await dest.ensureTable(reportTable);
      const url = 'https://api.harvestapp.com/v2/reports/time/clients?from=20250301&to=20260228';
      const write = (extra: Partial<ObjectState>) =>
        dest.writeBatch({
          table: 'report_time_clients',
          rows: toRows(dest, columns, []),
          children: [],
          state: state('report_time_clients', 'c1', extra),
        });
      const pass = {
        mode: 'full' as const,
        startedAt: '2026-02-01T00:00:00Z',
        streams: [{ firstUrl: url, nextUrl: url }],
      };
      await write({ pass, firstDate: '2023-04-05' });
      expect(await dest.readState('report_time_clients')).toEqual(
        state('report_time_clients', 'c1', { pass, firstDate: '2023-04-05' }),
      );
      await write({ firstDate: '2023-04-05' });
      expect(await dest.readState('report_time_clients')).toEqual(
        state('report_time_clients', 'c1', { firstDate: '2023-04-05' }),
      );
      await write({});
      expect(await dest.readState('report_time_clients')).toEqual(state('report_time_clients', 'c1'));
    });
  });

  it('reports zero counts for an empty batch and writes its state', async () => {
    await dest.open();
    const columns = await dest.ensureTable(timeEntriesTable);
    const result = await writeTimeEntries(columns, [], { cursor: 'c1' });
    expect(result.tables.time_entries ?? ZERO).toEqual(ZERO);
    expect((await dest.readState('time_entries'))?.cursor).toBe('c1');
  });
});
