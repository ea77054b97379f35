import type { Row, SqlValue } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';
import { ROW_STAMP } from './mysql-sql.js';
import { sqlLiteral } from './mysql-values.js';

/**
 * Checks that every row has the table's width and an id, and keeps the last of rows sharing an id:
 * that is what a row-by-row upsert would have left, and one multi-row INSERT … ON DUPLICATE KEY
 * UPDATE then touches each row once.
 */
export function lastPerId(
  table: string,
  width: number,
  idIndex: number,
  rows: readonly Row[],
): readonly Row[] {
  const last = new Map<SqlValue, number>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row.length !== width) {
      throw new DestinationError(
        `a row for "${table}" has ${row.length} values but the table has ${width} columns`,
      );
    }
    if (row[idIndex] === null) throw new DestinationError(`a record of "${table}" has no id`);
    last.set(row[idIndex], i);
  }
  return last.size === rows.length ? rows : rows.filter((row, i) => last.get(row[idIndex]) === i);
}

/** One row as `(v1, v2, …, NOW(6), NULL)`. */
function rowText(row: Row): string {
  let text = '(' + sqlLiteral(row[0]);
  for (let i = 1; i < row.length; i++) text += ', ' + sqlLiteral(row[i]);
  return text + ROW_STAMP;
}

/**
 * Multi-row upserts of `rows`, each statement at most `maxBytes` long (the server refuses a packet
 * over its max_allowed_packet, and drops the connection with it). Characters are counted, at three
 * bytes each (no UTF-16 unit takes more in UTF-8), so most rows need no exact byte count.
 */
export function* upsertStatements(
  sql: { readonly head: string; readonly tail: string },
  rows: readonly Row[],
  maxBytes: number,
  table: string,
): Generator<string> {
  const fixed = sql.head.length + sql.tail.length;
  const budget = Math.floor(maxBytes / 3);
  let parts: string[] = [];
  let size = fixed;
  for (const row of rows) {
    const text = rowText(row);
    if ((fixed + text.length) * 3 > maxBytes && Buffer.byteLength(sql.head + text + sql.tail) > maxBytes) {
      throw new DestinationError(
        `a record of "${table}" is larger than the server's max_allowed_packet (${maxBytes} bytes); raise it`,
      );
    }
    if (parts.length > 0 && size + text.length + 2 > budget) {
      yield sql.head + parts.join(', ') + sql.tail;
      parts = [];
      size = fixed;
    }
    parts.push(text);
    size += text.length + 2;
  }
  if (parts.length > 0) yield sql.head + parts.join(', ') + sql.tail;
}

export type Counts = { inserted: number; updated: number; unchanged: number; deleted: number };

/** A batch's counts per table, summed as its parts (rows, children, orphans, sweep) are written. */
export class BatchTally {
  readonly tables: Record<string, Counts> = {};

  add(table: string, counts: Partial<Counts>): void {
    const t = (this.tables[table] ??= { inserted: 0, updated: 0, unchanged: 0, deleted: 0 });
    t.inserted += counts.inserted ?? 0;
    t.updated += counts.updated ?? 0;
    t.unchanged += counts.unchanged ?? 0;
    t.deleted += counts.deleted ?? 0;
  }
}
