import { baseEncoders } from '../../catalog/schema.js';
import type { ValueEncoders } from '../../catalog/schema.js';
import type { JsonValue, Row, SqlValue } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';

/**
 * PostgreSQL text cannot hold NUL at all, and jsonb refuses the `\u0000` escape. Harvest text with a
 * NUL in it would otherwise fail its batch on every run, so the character is dropped: the only value
 * this destination stores differently from what Harvest sent.
 */
/** `\u0000` preceded by an even number of backslashes is the escape, not escaped text. */
const JSON_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

function asText(v: JsonValue): SqlValue {
  return typeof v === 'object' && v !== null ? JSON.stringify(v).replace(JSON_NUL, '$1') : v;
}

/** Values as the COPY encoder below expects them: JS scalars, arrays as JSON text. */
export const postgresEncoders: ValueEncoders = baseEncoders({
  text: asText,
  time: asText,
  json: (v) => (v === null ? null : JSON.stringify(v).replace(JSON_NUL, '$1')),
});

const SPECIAL = /[\\\t\n\r\0]/;
const SPECIALS = /[\\\t\n\r\0]/g;
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '',
};

/** One field in COPY's text format: `\N` is NULL, and backslash, tab, newline, CR are escaped. */
export function copyField(value: SqlValue): string {
  if (value === null) return '\\N';
  switch (typeof value) {
    case 'string':
      return SPECIAL.test(value) ? value.replace(SPECIALS, (ch) => ESCAPES[ch]) : value;
    case 'number':
      // String() gives the shortest text that reads back as the same double: 0.1 → "0.1".
      if (!Number.isFinite(value)) throw new DestinationError(`cannot store the number ${value}`);
      return String(value);
    case 'boolean':
      return value ? 't' : 'f';
    default:
      throw new DestinationError(`cannot store a value of type ${typeof value}`);
  }
}

/** One row as a COPY text line; `tail` (COPY text already) is appended as its last field(s). */
export function copyLine(row: Row, tail?: string): string {
  let line = copyField(row[0]);
  for (let i = 1; i < row.length; i++) line += '\t' + copyField(row[i]);
  return tail === undefined ? line + '\n' : line + '\t' + tail + '\n';
}

/** About 64 KiB per chunk for typical rows: few stream writes, bounded extra memory. */
const ROWS_PER_CHUNK = 256;

/** A batch as COPY text, a chunk at a time; `tail` as in copyLine, the same for every row. */
export function* copyChunks(rows: readonly Row[], tail?: string): Generator<string> {
  for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
    let chunk = '';
    const end = Math.min(rows.length, start + ROWS_PER_CHUNK);
    for (let i = start; i < end; i++) chunk += copyLine(rows[i], tail);
    yield chunk;
  }
}
