import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DestinationError } from '../../src/errors.js';
import { invoiceLineItemsTable, state, timeEntriesTable, timeEntry, toRows } from './fixtures.js';
import type { Column } from '../../src/catalog/types.js';
import { SqliteDestination } from '../../src/destinations/sqlite/sqlite-destination.js';
import type { SqliteDestinationOptions } from '../../src/destinations/sqlite/sqlite-destination.js';
import { TestClock } from '../support/clock.js';

const T = Date.parse('2026-03-01T12:00:00.000Z');

describe('SqliteDestination', () => {
  let dir: string;
  let path: string;
  const opened: SqliteDestination[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'harvest-sync-sqlite-'));
    path = join(dir, 'harvest.db');
  });

  afterEach(async () => {
    for (const d of opened.splice(0)) await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function destination(options: SqliteDestinationOptions = {}, at = path): SqliteDestination {
    const d = new SqliteDestination(at, options);
    opened.push(d);
    return d;
  }

  function inspect<T>(sql: string): T[] {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  async function write(d: SqliteDestination, columns: readonly Column[], ids: number[], sweepSince?: string) {
    return d.writeBatch({
      table: 'time_entries',
      rows: toRows(
        d,
        columns,
        ids.map((id) => timeEntry(id)),
      ),
      children: [],
      state: state('time_entries', null),
      sweep: sweepSince ? { tables: ['time_entries'], since: sweepSince } : undefined,
    });
  }

  describe('opening', () => {
    it('opens in WAL mode with the run lock in a file beside the database', async () => {
      const d = destination();
      await d.open();
      await d.open();
      expect(inspect<{ journal_mode: string }>('PRAGMA journal_mode')[0].journal_mode).toBe('wal');
      expect(existsSync(`${path}.lock`)).toBe(true);
      expect(d.description).toBe(`sqlite:${path}`);
    });

    it('refuses a missing directory without creating it', async () => {
      const at = join(dir, 'missing', 'harvest.db');
      const open = destination({}, at).open();
      await expect(open).rejects.toBeInstanceOf(DestinationError);
      await expect(open).rejects.toThrow(
        `cannot open SQLite database at ${at}: directory ${join(dir, 'missing')} does not exist`,
      );
      expect(existsSync(join(dir, 'missing'))).toBe(false);
    });

    it('refuses a directory, an empty path and a file that is not a database', async () => {
      const sub = join(dir, 'sub.db');
      mkdirSync(sub);
      await expect(destination({}, sub).open()).rejects.toThrow(
        `cannot open SQLite database at ${sub}: it is a directory`,
      );
      await expect(destination({}, '').open()).rejects.toThrow('the path is empty');
      const text = join(dir, 'notes.db');
      writeFileSync(text, 'this is not a database, just some text that is long enough '.repeat(20));
      const open = destination({}, text).open();
      await expect(open).rejects.toThrow(
        /^cannot open SQLite database at .*notes\.db: the file exists and is not a SQLite database/,
      );
      // The failed open released its lock: a real database there opens fine afterwards.
      rmSync(text);
      await destination({}, text).open();
    });

    it.skipIf(process.getuid?.() === 0)('refuses a directory it cannot write to', async () => {
      const locked = join(dir, 'ro');
      mkdirSync(locked, { mode: 0o555 });
      await expect(destination({}, join(locked, 'h.db')).open()).rejects.toThrow(/is not writable/);
    });
  });

  describe('storage', () => {
    it('stores decimals as SQLite numbers, booleans as 0/1 and indexes child tables by parent', async () => {
      const d = destination();
      await d.open();
      const columns = await d.ensureTable(timeEntriesTable);
      await d.ensureTable(invoiceLineItemsTable);
      await d.writeBatch({
        table: 'time_entries',
        rows: toRows(d, columns, [
          timeEntry(1, { hours: 0.1, cost_rate: 100, billable: true, is_locked: false }),
        ]),
        children: [],
        state: state('time_entries', null),
      });
      const [row] = inspect<Record<string, unknown>>(
        `SELECT hours, typeof(hours) AS th, cost_rate, typeof(cost_rate) AS tc, billable, is_locked,
                typeof(id) AS ti FROM time_entries`,
      );
      expect(row).toEqual({
        hours: 0.1,
        th: 'real',
        cost_rate: 100,
        tc: 'integer',
        billable: 1,
        is_locked: 0,
        ti: 'integer',
      });
      const indexes = inspect<{ name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invoice_line_items' AND sql LIKE '%invoice_id%'`,
      );
      expect(indexes).toHaveLength(1);
    });

    it('refuses a record without an id instead of letting SQLite invent one', async () => {
      const d = destination();
      await d.open();
      const columns = await d.ensureTable(timeEntriesTable);
      const rows = toRows(d, columns, [timeEntry(1), { ...timeEntry(2), id: null }]);
      await expect(
        d.writeBatch({ table: 'time_entries', rows, children: [], state: state('time_entries', 'x') }),
      ).rejects.toThrow('a record of "time_entries" has no id');
      expect(inspect('SELECT * FROM time_entries')).toHaveLength(0);
    });

    it('refuses an undeclared column whose name differs from an existing one only by case', async () => {
      const d = destination();
      await d.open();
      await d.ensureTable(timeEntriesTable);
      await expect(
        d.addColumns('time_entries', [{ name: 'Notes', type: 'text', path: ['Notes'] }]),
      ).rejects.toThrow(/clashes with column "notes"/);
    });

    it('refuses an existing table whose id is not its primary key', async () => {
      const db = new Database(path);
      db.exec('CREATE TABLE time_entries (id INTEGER, notes TEXT)');
      db.close();
      const d = destination();
      await d.open();
      await expect(d.ensureTable(timeEntriesTable)).rejects.toThrow('"id" is not its primary key');
    });
  });

  describe('time', () => {
    it('keeps a row written in the same millisecond as now() out of the sweep', async () => {
      const clock = new TestClock({ start: T, sleeps: 'ignore' });
      const d = destination({ clock });
      await d.open();
      const columns = await d.ensureTable(timeEntriesTable);
      await write(d, columns, [1]);
      const since = await d.now();
      expect(Date.parse(since)).toBeGreaterThan(T);
      // The clock has not moved: the next write shares now()'s millisecond.
      const result = await write(d, columns, [2], since);
      expect(result.tables.time_entries.deleted).toBe(1);
      const rows = inspect<{ id: number; _synced_at: string; _deleted_at: string | null }>(
        'SELECT id, _synced_at, _deleted_at FROM time_entries ORDER BY id',
      );
      expect(rows.map((r) => [r.id, r._deleted_at === null])).toEqual([
        [1, false],
        [2, true],
      ]);
      expect(rows[1]._synced_at).toBe(since);
    });

    it('never stamps earlier than before, even when the clock goes back or the database is reopened', async () => {
      const clock = new TestClock({ start: T, sleeps: 'ignore' });
      const first = destination({ clock });
      await first.open();
      const columns = await first.ensureTable(timeEntriesTable);
      await write(first, columns, [1]);
      await first.close();

      clock.set(T - 60_000);
      const second = destination({ clock });
      await second.open();
      const since = await second.now();
      expect(since > new Date(T).toISOString()).toBe(true);
      await second.ensureTable(timeEntriesTable);
      const result = await write(second, columns, [2], since);
      expect(result.tables.time_entries.deleted).toBe(1);
    });
  });

  describe('failures', () => {
    it('reports a database another program keeps locked as retryable, and writes nothing', async () => {
      const d = destination({ busyTimeoutMs: 20 });
      await d.open();
      const columns = await d.ensureTable(timeEntriesTable);
      const other = new Database(path);
      try {
        other.exec('BEGIN IMMEDIATE');
        const failing = write(d, columns, [1, 2]);
        await expect(failing).rejects.toMatchObject({ retryable: true });
        await expect(failing).rejects.toThrow(/: the database is locked by another connection \(/);
        other.exec('ROLLBACK');
      } finally {
        other.close();
      }
      expect((await d.tableInfo('time_entries'))?.rowCount).toBe(0);
      expect((await write(d, columns, [1, 2])).tables.time_entries.inserted).toBe(2);
    });

    it('reports a full disk in one line and keeps the last committed batch and state', async () => {
      const d = destination({ maxPageCount: 60 });
      await d.open();
      const columns = await d.ensureTable(timeEntriesTable);
      await d.writeBatch({
        table: 'time_entries',
        rows: toRows(d, columns, [timeEntry(1)]),
        children: [],
        state: state('time_entries', 'before'),
      });
      const big = Array.from({ length: 400 }, (_, i) => timeEntry(i + 10, { notes: 'n'.repeat(2000) }));
      const failing = d.writeBatch({
        table: 'time_entries',
        rows: toRows(d, columns, big),
        children: [],
        state: state('time_entries', 'after'),
      });
      await expect(failing).rejects.toBeInstanceOf(DestinationError);
      await expect(failing).rejects.toThrow(
        /^cannot write time_entries to SQLite database at .*: the disk \(or the database size limit\) is full \([^\n]*\)$/,
      );
      expect((await d.readState('time_entries'))?.cursor).toBe('before');
      expect((await d.tableInfo('time_entries'))?.rowCount).toBe(1);
    });
  });

  it('writes ten 2000-row time-entry batches whole (speed is measured by npm run bench, not here)', async () => {
    const d = destination();
    await d.open();
    const columns = await d.ensureTable(timeEntriesTable);
    const batches = 10;
    const size = 2000;
    for (let b = 0; b < batches; b++) {
      const rows = toRows(
        d,
        columns,
        Array.from({ length: size }, (_, i) => timeEntry(2_000_000_000 + b * size + i)),
      );
      await d.writeBatch({
        table: 'time_entries',
        rows,
        children: [],
        state: state('time_entries', String(b)),
      });
    }
    expect((await d.tableInfo('time_entries'))?.rowCount).toBe(batches * size);
    expect((await d.readState('time_entries'))?.cursor).toBe(String(batches - 1));
  });
});
