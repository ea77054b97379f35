import type { Column, Row, SqlValue } from '../catalog/types.js';
import { DestinationError } from '../errors.js';
import type { BatchResult, TableCounts, WrittenQuery } from './destination.js';

/*
 * Helpers every Destination's writeBatch shares, so that the engines count and check a batch alike.
 */

/** Adds counts up per table, into a BatchResult. */
export class BatchCounter {
  readonly #tables: Record<
    string,
    { inserted: number; updated: number; unchanged: number; deleted: number }
  > = {};

  add(table: string, counts: Partial<TableCounts>): void {
    const t = (this.#tables[table] ??= { inserted: 0, updated: 0, unchanged: 0, deleted: 0 });
    t.inserted += counts.inserted ?? 0;
    t.updated += counts.updated ?? 0;
    t.unchanged += counts.unchanged ?? 0;
    t.deleted += counts.deleted ?? 0;
  }

  result(): BatchResult {
    return { tables: this.#tables };
  }
}

/** What a table needs to check its rows: its name, how many columns a row has, where its id is. */
export interface RowShape {
  readonly name: string;
  readonly width: number;
  readonly idIndex: number;
}

/**
 * Checks widths and ids, and keeps the last of rows sharing an id: what writing them one after
 * another would leave (and one INSERT … ON CONFLICT may not touch a row twice). A record without
 * an id is refused (SQLite would silently give it a new rowid).
 */
export function lastCopyPerId(table: RowShape, rows: readonly Row[]): readonly Row[] {
  const last = new Map<SqlValue, number>();
  rows.forEach((row, i) => {
    if (row.length !== table.width) {
      throw new DestinationError(
        `a row for "${table.name}" has ${row.length} values but the table has ${table.width} columns`,
      );
    }
    const id = row[table.idIndex];
    if (id === null) throw new DestinationError(`a record of "${table.name}" has no id`);
    last.set(id, i);
  });
  return last.size === rows.length ? rows : rows.filter((row, i) => last.get(row[table.idIndex]) === i);
}

/**
 * The columns compared to tell an updated row from an unchanged one: every written column but the
 * id, `updated_at` first: Harvest changes it with every edit, so for a changed record the
 * comparison usually stops at the first column.
 */
export function comparedColumns(columns: readonly Column[]): Column[] {
  const compared = columns.filter((c) => c.name !== 'id');
  const cursor = compared.findIndex((c) => c.name === 'updated_at');
  if (cursor > 0) compared.unshift(...compared.splice(cursor, 1));
  return compared;
}

/**
 * The conditions of WrittenQuery.range with `?` placeholders (SQLite, MySQL), an open bound left
 * out: pushes them onto `where` and their values onto `params`.
 */
export function rangeConditions(
  range: WrittenQuery['range'],
  quote: (name: string) => string,
  into: { where: string[]; params: SqlValue[] },
): void {
  if (range?.from !== undefined) {
    into.where.push(`${quote(range.column)} >= ?`);
    into.params.push(range.from);
  }
  if (range?.to !== undefined) {
    into.where.push(`${quote(range.column)} <= ?`);
    into.params.push(range.to);
  }
}
