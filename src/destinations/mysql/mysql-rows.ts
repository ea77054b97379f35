import type { Row } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';
import { ROW_STAMP } from './mysql-sql.js';
import { sqlLiteral } from './mysql-values.js';

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
