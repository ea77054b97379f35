import { baseEncoders } from '../../catalog/schema.js';
import type { ValueEncoders } from '../../catalog/schema.js';
import type { JsonValue, SqlValue } from '../../catalog/types.js';
import { DestinationError } from '../../errors.js';

const EXPONENT = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/;

/**
 * A number as exact decimal text without an exponent: the shortest text that reads back as the same
 * double (what JSON gave us), so DECIMAL stores 0.1 as 0.1 and 1e-7 as 0.0000001, where a double
 * literal would be rounded on its way into DECIMAL.
 */
export function plainDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new DestinationError(`cannot store the number ${value}`);
  const text = String(value);
  const m = EXPONENT.exec(text);
  if (!m) return text;
  const [, sign, lead, rest = '', exp] = m;
  const digits = lead + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const ISO = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An ISO 8601 time as DATETIME text in UTC (`2024-02-29 23:59:58` or `….123456`), or null when the
 * text is not one. Fractions beyond microseconds are cut: DATETIME(6) holds no more.
 */
export function toDatetime(iso: string): string | null {
  const m = ISO.exec(iso);
  if (!m) return null;
  const [, date, time, fraction, zone] = m;
  let wall = `${date} ${time}`;
  if (!/^(Z|[+-]00:?00)$/i.test(zone)) {
    const ms = Date.parse(
      `${date}T${time}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`,
    );
    if (Number.isNaN(ms)) return null;
    wall = new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  }
  return fraction ? `${wall}.${fraction.slice(0, 6)}` : wall;
}

/** The same, for a bound the engine gives (an earlier `now()`): anything else is a bug, refused loudly. */
export function boundDatetime(iso: string): string {
  const value = toDatetime(iso);
  if (value === null) throw new DestinationError(`invalid time bound ${JSON.stringify(iso.slice(0, 40))}`);
  return value;
}

const asText = (v: JsonValue): SqlValue => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v);

/**
 * Values as the INSERT text below expects them. Decimals go as exact decimal text, booleans as 1/0,
 * timestamps as UTC DATETIME text. A value of the wrong kind is passed on as it came, so that
 * strict mode refuses it (the batch fails whole) rather than storing something else.
 */
export const mysqlEncoders: ValueEncoders = baseEncoders({
  decimal: (v) => (typeof v === 'number' ? plainDecimal(v) : asText(v)),
  boolean: (v) => (v === true ? 1 : v === false ? 0 : asText(v)),
  timestamp: (v) => (typeof v === 'string' ? (toDatetime(v) ?? v) : asText(v)),
});

const STRING_SPECIAL = /[\0\n\r'\\]/;
const STRING_SPECIALS = /[\0\n\r'\\]/g;
const STRING_ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  "'": "\\'",
  '\\': '\\\\',
};

/**
 * A string as a quoted SQL literal. Only the quote and the backslash must be escaped; NUL, CR and LF
 * are too, so that the statement stays one readable line. Most strings hold none of them and
 * are passed as they are (this runs for every text value of every row).
 */
export function quoteString(value: string): string {
  return STRING_SPECIAL.test(value)
    ? `'${value.replace(STRING_SPECIALS, (ch) => STRING_ESCAPES[ch])}'`
    : `'${value}'`;
}

/** One value as a SQL literal (the session has no NO_BACKSLASH_ESCAPES, so backslash escapes hold). */
export function sqlLiteral(value: SqlValue): string {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new DestinationError(`cannot store the number ${value}`);
      return String(value);
    case 'boolean':
      return value ? '1' : '0';
    case 'string':
      return quoteString(value);
    default:
      if (value === null) return 'NULL';
      throw new DestinationError(`cannot store a value of type ${typeof value}`);
  }
}

/** A list of values as `(a, b, …)`; for id lists in IN (…). */
export function sqlList(values: readonly SqlValue[]): string {
  return `(${values.map(sqlLiteral).join(', ')})`;
}
