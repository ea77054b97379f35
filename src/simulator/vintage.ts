import type { JsonObject, JsonValue } from '../catalog/types.js';
import type { RecordView } from './store.js';
import type { Vintage } from './types.js';

/*
 * Which fields an account sends is a property of the account (of when its API answered), never a
 * coin toss per record: the recorded responses of one account all have the same keys. The stores
 * hold every field of the current docs; an older vintage leaves some out when a record is shown.
 * Sources: harvest-recorded/time_entries.json (May 2024: no approval_status), the 2019 recordings
 * (time entries without hours_without_timer, rounded_hours, user_assignment.use_default_rates;
 * user assignments without use_default_rates; clients without statement_key; users with the legacy
 * permission flags and no access_roles), invoices.json (2020: no payment_options).
 */

/** Dotted paths an account of each vintage does not send, per object. */
const ABSENT: Record<Vintage, Readonly<Record<string, readonly string[]>>> = {
  current: {},
  '2024': {
    time_entries: ['approval_status'],
    expenses: ['approval_status'],
  },
  '2019': {
    time_entries: [
      'approval_status',
      'hours_without_timer',
      'rounded_hours',
      'user_assignment.use_default_rates',
    ],
    expenses: ['approval_status'],
    user_assignments: ['use_default_rates'],
    clients: ['statement_key'],
    invoices: ['payment_options'],
    users: ['access_roles'],
  },
};

/** The pre-access_roles permission flags a 2019 user carried, from its access roles. */
function legacyFlags(record: JsonObject): JsonObject {
  const roles = Array.isArray(record.access_roles) ? record.access_roles : [];
  const has = (role: string) => roles.includes(role);
  const admin = has('administrator');
  return {
    is_admin: admin,
    is_project_manager: has('manager'),
    can_see_rates: admin || has('billable_rates_manager'),
    can_create_projects: admin || has('project_creator'),
    can_create_invoices:
      admin || has('managed_projects_invoice_drafter') || has('managed_projects_invoice_manager'),
  };
}

function without(record: JsonObject, path: readonly string[]): JsonObject {
  const [head, ...rest] = path;
  if (!(head in record)) return record;
  const { [head]: value, ...others } = record;
  if (rest.length === 0) return others;
  const inner: JsonValue = value;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return record;
  return { ...record, [head]: without(inner, rest) };
}

/** How records of `object` look in an account of this vintage; null when as stored. */
export function vintageView(vintage: Vintage, object: string): RecordView | null {
  const paths = (ABSENT[vintage][object] ?? []).map((p) => p.split('.'));
  const legacy = vintage === '2019' && object === 'users';
  if (paths.length === 0 && !legacy) return null;
  return (record) => {
    let out = legacy ? { ...record, ...legacyFlags(record) } : record;
    for (const path of paths) out = without(out, path);
    return out;
  };
}
