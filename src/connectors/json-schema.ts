import type { ColumnType, FieldTree, JsonObject, JsonValue, ObjectSpec } from '../catalog/types.js';

/**
 * JSON Schemas of the records the Singer tap and the Airbyte source emit, built from the catalog
 * (src/catalog/objects.ts), so an object added there is a stream here with no other change.
 *
 * Records keep Harvest's nested shape: a nested object is an object property, an object's children
 * (invoice line items) stay an array of objects under their field (`line_items`). Every property is
 * nullable: Harvest sends null for any absent value, nested objects included.
 *
 * Decimals (money, rates, hours) are JSON numbers, exactly as Harvest sends them, with no
 * `multipleOf`: Harvest documents no scale per field ("precision depends on the field"), and a
 * `multipleOf` makes binary floating-point validators (ajv, Python's jsonschema) reject values such
 * as 0.07 against 0.01. See README, "Decimals".
 */
export type JsonSchema = JsonObject;

const DATE_FORMATS: Partial<Record<ColumnType, string>> = { date: 'date', timestamp: 'date-time' };

/** The schema of one value of a catalog column type, nullable. */
export function typeSchema(type: ColumnType): JsonSchema {
  switch (type) {
    case 'bigint':
    case 'integer':
      return { type: ['null', 'integer'] };
    case 'decimal':
      return { type: ['null', 'number'] };
    case 'boolean':
      return { type: ['null', 'boolean'] };
    case 'json':
      // arrays of scalars (roles, user_ids, payment_options): items as Harvest sends them
      return { type: ['null', 'array'], items: {} };
    default: {
      const format = DATE_FORMATS[type];
      return format ? { type: ['null', 'string'], format } : { type: ['null', 'string'] };
    }
  }
}

/** The schema of a (nested) object described by a field tree. */
export function treeSchema(tree: FieldTree, nullable = true): JsonSchema {
  const properties: JsonObject = {};
  for (const [field, spec] of Object.entries(tree)) {
    properties[field] = typeof spec === 'string' ? typeSchema(spec) : treeSchema(spec);
  }
  return { type: nullable ? ['null', 'object'] : 'object', properties };
}

/** The schema of an object's records: its fields, and each child as an array of objects. */
export function recordSchema(spec: ObjectSpec): JsonSchema {
  const schema = treeSchema(spec.fields, false);
  const properties = schema.properties as JsonObject;
  for (const child of spec.children) {
    properties[child.field] = { type: ['null', 'array'], items: treeSchema(child.fields, false) };
  }
  return schema;
}

/**
 * Adds a field Harvest started sending (schema drift) to a record schema, at its path (below
 * `childField`'s items for a child's field). Returns false when the path is already declared.
 */
export function addProperty(
  schema: JsonSchema,
  path: readonly string[],
  type: ColumnType,
  childField?: string,
): boolean {
  let node = schema;
  if (childField !== undefined) {
    const holder = (node.properties as JsonObject)[childField] as JsonObject | undefined;
    if (!holder) return false;
    node = holder.items as JsonObject;
  }
  for (const [i, key] of path.entries()) {
    const properties = (node.properties ??= {}) as JsonObject;
    const existing = properties[key] as JsonObject | undefined;
    if (i === path.length - 1) {
      if (existing) return false;
      properties[key] = typeSchema(type);
      return true;
    }
    if (!existing) properties[key] = { type: ['null', 'object'], properties: {} };
    else if (!('properties' in existing)) return false;
    node = properties[key] as JsonObject;
  }
  return false;
}

/** The schema without the top-level properties in `excluded` (fields a catalog deselected). */
export function withoutFields(schema: JsonSchema, excluded: ReadonlySet<string>): JsonSchema {
  if (excluded.size === 0) return schema;
  const properties = Object.fromEntries(
    Object.entries(schema.properties as JsonObject).filter(([field]) => !excluded.has(field)),
  );
  return { ...schema, properties };
}

type Conform = (value: JsonValue) => JsonValue;

const NUMERIC = /^-?\d+(\.\d+)?$/;
const asIs: Conform = (v) => v;
const toNumber: Conform = (v) => (typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v) : v);
const toText: Conform = (v) =>
  typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : typeof v === 'object' && v !== null
      ? JSON.stringify(v)
      : v;
const toBoolean: Conform = (v) => (v === 'true' ? true : v === 'false' ? false : v);

const CONFORM: Record<ColumnType, Conform> = {
  bigint: toNumber,
  integer: toNumber,
  decimal: toNumber,
  boolean: toBoolean,
  date: toText,
  timestamp: toText,
  time: toText,
  text: toText,
  json: asIs,
};

/**
 * Compiles, once per object, a function that types a record per its schema: a number where a text
 * field is declared becomes its text, a numeric string where a number is declared becomes the number.
 * Values that already fit (all of them, from Harvest as documented) are kept as they are; fields
 * the catalog does not declare are kept untouched. The record is copied, never changed in place.
 */
export function compileConformer(spec: ObjectSpec): (record: JsonObject) => JsonObject {
  const main = treeConformer(spec.fields);
  const children = spec.children.map((c) => ({ field: c.field, conform: treeConformer(c.fields) }));
  return (record) => {
    const out = main(record);
    for (const { field, conform } of children) {
      const items = out[field];
      if (Array.isArray(items)) {
        out[field] = items.map((item) =>
          item !== null && typeof item === 'object' && !Array.isArray(item) ? conform(item) : item,
        );
      }
    }
    return out;
  };
}

function treeConformer(tree: FieldTree): (record: JsonObject) => JsonObject {
  const fields = Object.entries(tree).map(([field, spec]) => {
    if (typeof spec === 'string') return { field, conform: CONFORM[spec] };
    const nested = treeConformer(spec);
    const conform: Conform = (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? nested(v) : v;
    return { field, conform };
  });
  return (record) => {
    const out: JsonObject = { ...record };
    for (const { field, conform } of fields) {
      const value = out[field];
      if (value !== undefined && value !== null) out[field] = conform(value);
    }
    return out;
  };
}
