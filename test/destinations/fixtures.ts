import { compileRowMapper, objectTable, objectTables } from '../../src/catalog/schema.js';
import { findObject } from '../../src/catalog/objects.js';
import type {
  Column,
  ColumnType,
  JsonObject,
  ObjectSpec,
  Row,
  TableSchema,
} from '../../src/catalog/types.js';
import type { Destination, ObjectState } from '../../src/destinations/destination.js';

export function catalogObject(name: string): ObjectSpec {
  const object = findObject(name);
  if (!object) throw new Error(`no catalog object ${name}`);
  return object;
}

/** Rows per batch written by destination-child.ts. */
export const CHILD_BATCH_SIZE = 500;

export const timeEntriesTable: TableSchema = objectTable(catalogObject('time_entries'));
export const [invoicesTable, invoiceLineItemsTable] = objectTables(catalogObject('invoices'));

/** A time entry shaped like Harvest's (shared/harvest-examples/time_entries.json), with its own id. */
export function timeEntry(id: number, overrides: JsonObject = {}): JsonObject {
  return {
    id,
    spent_date: '2024-05-14',
    user: { id: 3300002, name: 'Lee Chen' },
    client: { id: 9100001, name: 'Acme Widgets', currency: 'USD' },
    project: { id: 45000010, name: 'Website Refresh', code: 'WR' },
    task: { id: 12000005, name: 'Design' },
    user_assignment: {
      id: 520000010,
      is_project_manager: false,
      is_active: true,
      use_default_rates: true,
      budget: null,
      created_at: '2024-03-05T09:00:00Z',
      updated_at: '2024-03-05T09:00:00Z',
      hourly_rate: 120.0,
    },
    task_assignment: {
      id: 700000021,
      billable: true,
      is_active: true,
      created_at: '2024-03-05T09:00:00Z',
      updated_at: '2024-03-05T09:00:00Z',
      hourly_rate: 140.0,
      budget: null,
    },
    hours: 2.58,
    hours_without_timer: 2.58,
    rounded_hours: 2.75,
    notes: `Homepage wireframes #${id}`,
    created_at: '2024-05-14T16:40:02Z',
    updated_at: '2024-05-15T08:31:17Z',
    is_locked: false,
    locked_reason: null,
    is_closed: false,
    approval_status: 'submitted',
    is_billed: false,
    timer_started_at: null,
    started_time: '13:00',
    ended_time: '15:35',
    is_running: false,
    invoice: null,
    external_reference: null,
    billable: true,
    budgeted: true,
    billable_rate: 140.0,
    cost_rate: 60.0,
    ...overrides,
  };
}

/** An invoice with the given line items (ids), shaped like Harvest's. */
export function invoice(id: number, lineItemIds: readonly number[], overrides: JsonObject = {}): JsonObject {
  return {
    id,
    client_key: 'c0ffee00c0ffee00',
    number: `2024-${id}`,
    amount: 1134.0,
    due_amount: 1134.0,
    tax: 8.0,
    tax_amount: 84.0,
    tax2: null,
    subject: 'May retainer',
    state: 'open',
    issue_date: '2024-06-01',
    sent_at: '2024-06-01T09:12:44Z',
    created_at: '2024-06-01T09:10:02Z',
    updated_at: '2024-06-01T09:12:44Z',
    currency: 'USD',
    payment_options: ['credit_card', 'ach'],
    client: { id: 9100001, name: 'Acme Widgets' },
    estimate: null,
    creator: { id: 3300001, name: 'Sam Rivera' },
    line_items: lineItemIds.map((itemId) => ({
      id: itemId,
      kind: 'Service',
      description: `Design work ${itemId}`,
      quantity: 7.5,
      unit_price: 140.0,
      amount: 1050.0,
      taxed: true,
      taxed2: false,
      project: { id: 45000010, name: 'Website Refresh', code: 'WR' },
    })),
    ...overrides,
  };
}

/** Rows the way the engine builds them: the table's column order, the destination's encoders. */
export function toRows(
  destination: Destination,
  columns: readonly Column[],
  records: readonly JsonObject[],
): Row[] {
  const map = compileRowMapper(columns, destination.encoders);
  return records.map(map);
}

/** Child rows: the parent key column is filled with the parent's id, not read from the item. */
export function toChildRows(
  destination: Destination,
  columns: readonly Column[],
  parentKey: string,
  parentId: number,
  items: readonly JsonObject[],
): Row[] {
  const index = columns.findIndex((c) => c.name === parentKey);
  const map = compileRowMapper(columns, destination.encoders);
  return items.map((item) => {
    const row = map(item);
    row[index] = destination.encoders.bigint(parentId);
    return row;
  });
}

export function state(object: string, cursor: string | null, extra: Partial<ObjectState> = {}): ObjectState {
  return { object, cursor, pass: null, lastFullPassAt: null, ...extra };
}

/** Quotes an identifier for the SQL tests write by hand. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function localDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * A value read back by a test's query, in one form whatever the engine's driver returns
 * (SQLite numbers and 0/1, PostgreSQL numeric/bigint strings, Date objects, parsed jsonb).
 */
export function canonical(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'bigint':
    case 'integer':
      return String(value);
    case 'decimal':
      return Number(value);
    case 'boolean':
      return value === true || value === 1 || value === '1' || value === 't';
    case 'date':
      return value instanceof Date ? localDate(value) : String(value);
    case 'timestamp':
      return new Date(value as string | Date).toISOString();
    case 'json':
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
    default:
      return value;
  }
}

/** A count(*) from a test query, whatever numeric type the driver returns. */
export function countOf(rows: Record<string, unknown>[]): number {
  return Number(Object.values(rows[0])[0]);
}
