import { Database, type Statement } from './sqlite-driver.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationError } from '../../errors.js';
import type { WrittenQuery } from '../destination.js';

/** What the ledger remembers of a record a read emitted: when, and its window date (if any). */
interface Written {
  readonly stamp: number;
  readonly day: string | null;
}

/** A row of a page, as the counts need it. */
export interface WrittenRow {
  readonly id: number;
  readonly day: string | null;
}

/**
 * One stream attempt of a pass (Destination.countWritten's unit): rows stamped at or after
 * `since`, within [from, to] when the stream is a date window.
 */
export interface CountKey {
  readonly since: string;
  readonly from?: string;
  readonly to?: string;
}

interface Counter extends CountKey {
  readonly sinceMs: number;
  n: number;
}

export function countKeyId(key: CountKey): string {
  return `${key.since}|${key.from ?? ''}|${key.to ?? ''}`;
}

/**
 * Destination.countWritten for destinations that keep no rows (the Singer tap, the Airbyte source):
 * how many distinct records a stream attempt emitted, with memory bounded whatever the account size.
 *
 * The ids (with their stamp and window date) go to a temporary SQLite file, not to memory: a
 * million time entries would otherwise hold a million ids (tens of MB in a JS Set) for the whole
 * read. SQLite's page cache is capped at 2 MiB; the file is deleted on close. Per live stream
 * attempt a counter is kept up to date as pages are written (one indexed look-up per record), so
 * the count is exact, distinct records only, like the table destinations' `count(*)`.
 *
 * A resumed read starts with an empty file: the counts of its streams come from the state it resumes
 * (`seed`), so a record emitted both before and after the kill is counted twice (the check then
 * errs towards not re-reading; see README, "State").
 */
export class WrittenLedger {
  private db: Database | null = null;
  private dir: string | null = null;
  private upsert: Statement | null = null;
  private select: Statement | null = null;
  private tally: Statement | null = null;
  private readonly counters = new Map<string, Map<string, Counter>>();

  open(): void {
    if (this.db) return;
    const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-ledger-'));
    try {
      const db = new Database(join(dir, 'written.db'));
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('cache_size = -2048');
      db.exec(
        `CREATE TABLE written (tbl TEXT NOT NULL, id INTEGER NOT NULL, stamp INTEGER NOT NULL, day TEXT,
           PRIMARY KEY (tbl, id)) WITHOUT ROWID`,
      );
      this.upsert = db.prepare(
        `INSERT INTO written (tbl, id, stamp, day) VALUES (?, ?, ?, ?)
         ON CONFLICT (tbl, id) DO UPDATE SET stamp = excluded.stamp, day = excluded.day`,
      );
      this.select = db.prepare(
        `SELECT id, stamp, day FROM written WHERE tbl = ? AND id IN (SELECT value FROM json_each(?))`,
      );
      this.tally = db.prepare(
        `SELECT count(*) FROM written WHERE tbl = ? AND stamp >= ? AND (? IS NULL OR day >= ?) AND (? IS NULL OR day <= ?)`,
      );
      this.db = db;
      this.dir = dir;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw new DestinationError(`cannot create the temporary id ledger in ${tmpdir()}`, { cause: error });
    }
  }

  close(): void {
    this.db?.close();
    this.db = null;
    this.upsert = null;
    this.select = null;
    this.tally = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.counters.clear();
  }

  /** A stream attempt's count as a resumed state carries it (records emitted before the kill). */
  seed(table: string, key: CountKey, n: number): void {
    this.counter(table, key).n = n;
  }

  /** The count to carry in the state for a stream attempt. */
  current(table: string, key: CountKey): number {
    return this.counters.get(table)?.get(countKeyId(key))?.n ?? 0;
  }

  /**
   * Records a page of `table` emitted at `stamp` (later than every `since` of `live`), and updates
   * the counter of every stream attempt seen so far (the live ones of the state written with the
   * page, and those counted before): a record counts once per attempt whose range holds it.
   */
  apply(table: string, live: readonly CountKey[], rows: readonly WrittenRow[], stamp: number): void {
    if (rows.length === 0) return;
    const db = this.requireOpen();
    const upsert = this.upsert as Statement;
    for (const key of live) this.counter(table, key);
    const counters = [...(this.counters.get(table)?.values() ?? [])];
    const page = new Map(rows.map((row) => [row.id, row]));
    const before = this.lookup(table, [...page.keys()]);
    for (const row of page.values()) {
      const old = before.get(row.id);
      for (const c of counters) {
        if (inRange(row.day, c)) c.n += 1;
        if (old && old.stamp >= c.sinceMs && inRange(old.day, c)) c.n -= 1;
      }
    }
    db.transaction(() => {
      for (const row of page.values()) upsert.run(table, row.id, stamp, row.day);
    })();
  }

  /** Destination.countWritten: distinct records of the stream attempt, leaving `exceptIds` out. */
  count(table: string, query: WrittenQuery): number {
    const key: CountKey = { since: query.since, from: query.range?.from, to: query.range?.to };
    const counter = this.counter(table, key);
    const except = this.lookup(table, query.exceptIds ?? []);
    let inside = 0;
    for (const old of except.values())
      if (old.stamp >= counter.sinceMs && inRange(old.day, counter)) inside++;
    return Math.max(0, counter.n - inside);
  }

  private counter(table: string, key: CountKey): Counter {
    this.requireOpen();
    let byKey = this.counters.get(table);
    if (!byKey) this.counters.set(table, (byKey = new Map()));
    const id = countKeyId(key);
    let counter = byKey.get(id);
    if (!counter) {
      const sinceMs = Date.parse(key.since);
      if (Number.isNaN(sinceMs)) throw new DestinationError(`count since is not a time: ${key.since}`);
      // a stream attempt first seen now: what this read already wrote for it (none, for a new one)
      const n = (this.tally as Statement)
        .pluck()
        .get(table, sinceMs, key.from ?? null, key.from ?? null, key.to ?? null, key.to ?? null) as number;
      counter = { ...key, sinceMs, n };
      byKey.set(id, counter);
    }
    return counter;
  }

  private lookup(table: string, ids: readonly number[]): Map<number, Written> {
    const found = new Map<number, Written>();
    if (ids.length === 0) return found;
    this.requireOpen();
    const rows = (this.select as Statement).all(table, JSON.stringify(ids)) as Array<{
      id: number;
      stamp: number;
      day: string | null;
    }>;
    for (const row of rows) found.set(row.id, { stamp: row.stamp, day: row.day });
    return found;
  }

  private requireOpen(): Database {
    if (!this.db) throw new DestinationError('the id ledger is not open');
    return this.db;
  }
}

function inRange(day: string | null, key: CountKey): boolean {
  // an open window (the oldest has no `from`, the newest no `to`) is bounded on one side only
  if (key.from === undefined && key.to === undefined) return true;
  return (
    day !== null && (key.from === undefined || day >= key.from) && (key.to === undefined || day <= key.to)
  );
}
