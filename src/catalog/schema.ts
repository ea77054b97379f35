import { CatalogError } from '../errors.js';
import type {
  ChildSpec,
  Column,
  ColumnType,
  FieldTree,
  JsonObject,
  JsonValue,
  ObjectSpec,
  Row,
  SqlValue,
  TableSchema,
} from './types.js';

/**
 * Flattens a field tree into columns: `client.id` → `client_id`, recursively.
 * Two paths that flatten to one name (a field `client_id` beside an object `client` with an `id`)
 * are refused: silently overwriting one with the other would lose data.
 */
export function flattenFields(tree: FieldTree, prefix: readonly string[] = []): Column[] {
  const columns: Column[] = [];
  for (const [field, spec] of Object.entries(tree)) {
    const path = [...prefix, field];
    if (typeof spec === 'string') columns.push({ name: path.join('_'), type: spec, path });
    else columns.push(...flattenFields(spec, path));
  }
  assertNoCollision(columns);
  return columns;
}

export function assertNoCollision(columns: readonly Column[]): void {
  const seen = new Map<string, Column>();
  for (const column of columns) {
    const other = seen.get(column.name);
    if (other) {
      throw new CatalogError(
        `fields ${other.path.join('.')} and ${column.path.join('.')} both flatten to column "${column.name}"`,
      );
    }
    seen.set(column.name, column);
  }
}

/**
 * The table an object is stored in. An object listed per parent (invoice payments) names its
 * parent's id column, and a report read by windows its window's, so that a parent or window read
 * again has its rows that are gone marked deleted.
 */
export function objectTable(object: ObjectSpec): TableSchema {
  const table = { name: object.name, primaryKey: 'id' as const, columns: flattenFields(object.fields) };
  if (object.parent) return { ...table, parentKey: object.parent.key };
  if (object.report?.window === 'year') return { ...table, parentKey: 'window_id' };
  return table;
}

/** The table a child (embedded line items) is stored in: its parent key first, then its own fields. */
export function childTable(child: ChildSpec): TableSchema {
  const parentKey: Column = { name: child.parentKey, type: 'bigint', path: [] };
  const columns = [parentKey, ...flattenFields(child.fields)];
  assertNoCollision(columns);
  return { name: child.name, primaryKey: 'id', columns, parentKey: child.parentKey };
}

/** Every table an object writes to: its own first, then its children's. */
export function objectTables(object: ObjectSpec): TableSchema[] {
  return [objectTable(object), ...object.children.map(childTable)];
}

/** How a destination turns a JSON value of a given column type into a value its driver binds. */
export type ValueEncoders = { readonly [T in ColumnType]: (value: JsonValue) => SqlValue };

/** Encoders shared by destinations: JSON text for arrays and stray objects, everything else as is. */
export function baseEncoders(overrides: Partial<ValueEncoders> = {}): ValueEncoders {
  const asIs = (v: JsonValue): SqlValue => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v);
  return {
    bigint: asIs,
    integer: asIs,
    decimal: asIs,
    boolean: asIs,
    date: asIs,
    timestamp: asIs,
    time: asIs,
    text: asIs,
    json: (v) => (v === null ? null : JSON.stringify(v)),
    ...overrides,
  };
}

/**
 * Compiles, once per table, a function that turns an API record into a row in column order.
 * A missing key, or a null nested object, gives null in every column below it.
 */
export function compileRowMapper(
  columns: readonly Column[],
  encoders: ValueEncoders,
): (record: JsonObject) => Row {
  const getters = columns.map((column) => {
    const encode = encoders[column.type];
    const path = column.path;
    if (path.length === 1) {
      const key = path[0];
      return (record: JsonObject): SqlValue => {
        const v = record[key];
        return v === undefined || v === null ? null : encode(v);
      };
    }
    return (record: JsonObject): SqlValue => {
      let v: JsonValue | undefined = record;
      for (const key of path) {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
        v = v[key];
      }
      return v === undefined || v === null ? null : encode(v);
    };
  });
  return (record) => getters.map((get) => get(record));
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

/** Guesses the column type of a field the catalog does not declare, from one of its values. */
export function inferType(field: string, value: JsonValue): ColumnType {
  if (Array.isArray(value)) return 'json';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return field === 'id' || field.endsWith('_id') ? 'bigint' : 'decimal';
  if (typeof value === 'string') {
    if (DATE.test(value)) return 'date';
    if (TIMESTAMP.test(value)) return 'timestamp';
  }
  return 'text';
}

/**
 * Columns for the fields of `record` that `known` does not cover (schema drift: Harvest started
 * sending a new field). Nested objects are flattened like declared ones; a null value of an unknown
 * field is left for a later record that shows its type.
 */
export function undeclaredColumns(
  record: JsonObject,
  known: ReadonlySet<string>,
  ignore: ReadonlySet<string> = new Set(),
  prefix: readonly string[] = [],
): Column[] {
  const found: Column[] = [];
  for (const [field, value] of Object.entries(record)) {
    if (prefix.length === 0 && ignore.has(field)) continue;
    const path = [...prefix, field];
    const name = path.join('_');
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      found.push(...undeclaredColumns(value, known, ignore, path));
    } else if (!known.has(name) && value !== null) {
      found.push({ name, type: inferType(field, value), path });
    }
  }
  return found;
}
