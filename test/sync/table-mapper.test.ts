import { describe, expect, it } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import { childTable, objectTable, undeclaredColumns } from '../../src/catalog/schema.js';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { TableMapper } from '../../src/sync/table-mapper.js';
import { makeRecord } from './support/fake-harvest.js';

function spec(name: string): ObjectSpec {
  const found = findObject(name);
  if (!found) throw new Error(name);
  return found;
}

const invoices = spec('invoices');
const entries = spec('time_entries');

function mapperFor(object: ObjectSpec): TableMapper {
  const table = objectTable(object);
  return new TableMapper({
    table: table.name,
    columns: table.columns,
    encoders: sqliteEncoders,
    ignore: new Set(object.children.map((c) => c.field)),
  });
}

describe('TableMapper', () => {
  it('finds exactly the fields undeclaredColumns finds, in flat and nested places', () => {
    const mapper = mapperFor(entries);
    const names = new Set(objectTable(entries).columns.map((c) => c.name));
    const cases: JsonObject[] = [
      makeRecord(entries, 1, '2025-01-01T00:00:00Z'),
      { ...makeRecord(entries, 2, '2025-01-01T00:00:00Z'), new_flag: true },
      {
        ...makeRecord(entries, 3, '2025-01-01T00:00:00Z'),
        client: { id: 1, name: 'a', currency: 'EUR', vat: 'x' },
      },
      { ...makeRecord(entries, 4, '2025-01-01T00:00:00Z'), unknown_but_null: null },
      { ...makeRecord(entries, 5, '2025-01-01T00:00:00Z'), invoice: null, hours: 2 },
      { ...makeRecord(entries, 6, '2025-01-01T00:00:00Z'), hours: { value: 2 } },
      { ...makeRecord(entries, 7, '2025-01-01T00:00:00Z'), tags: ['a'] },
    ];
    const found = cases.map((r) => mapper.undeclared(r).map((c) => c.name));
    expect(found).toEqual(cases.map((r) => undeclaredColumns(r, names).map((c) => c.name)));
    expect(found).toEqual([[], ['new_flag'], ['client_vat'], [], [], ['hours_value'], ['tags']]);
  });

  it('ignores the embedded children of a parent and recompiles when columns are added', () => {
    const mapper = mapperFor(invoices);
    const record = makeRecord(invoices, 9, '2025-01-01T00:00:00Z');
    expect(mapper.undeclared(record)).toEqual([]);
    const extra = { ...record, reference: 'R-9' };
    const added = mapper.undeclared(extra);
    expect(added).toEqual([{ name: 'reference', type: 'text', path: ['reference'] }]);
    mapper.setColumns([...mapper.columns, ...added]);
    expect(mapper.undeclared(extra)).toEqual([]);
    expect(mapper.row(extra).at(-1)).toBe('R-9');
  });

  it('fills the parent key of a child row with the parent id', () => {
    const table = childTable(invoices.children[0]);
    const mapper = new TableMapper({
      table: table.name,
      columns: table.columns,
      encoders: sqliteEncoders,
      parentKey: table.parentKey,
    });
    const item = (makeRecord(invoices, 4, '2025-01-01T00:00:00Z').line_items as JsonObject[])[0];
    const row = mapper.row(item, 4);
    expect(row[0]).toBe(4);
    expect(row[1]).toBe(41);
    expect(mapper.undeclared(item)).toEqual([]);
  });
});
