import type { JsonObject, JsonValue, ObjectSpec } from '../catalog/types.js';
import { DAY_MS } from './generate.js';
import type { ListFilter } from './store.js';

/*
 * The list filters each endpoint documents (harvest-api-v2.md §9), and nothing else: Harvest ignores
 * a parameter it does not know, so a filter the simulator invented would hide a client that sends
 * one. `updated_since` (objects with the catalog's `incremental`) and `from`/`to` (objects with a
 * `sinceField`) come from the catalog. A malformed value is a 422 with Harvest's `{"message"}` body.
 */

type Kind = 'id' | 'boolean' | 'text' | readonly string[];

interface Filter {
  readonly param: string;
  readonly kind: Kind;
  /** Where the value sits: a field, or a nested object's id (`client_id` → `client.id`). */
  readonly path: readonly string[];
  /** The value sits in each item of this array field; the record matches when one item does. */
  readonly inArray?: string;
}

const APPROVAL = ['unsubmitted', 'submitted', 'approved'] as const;

const id = (param: string, inArray?: string): Filter => ({
  param,
  kind: 'id',
  path: [param.slice(0, -'_id'.length), 'id'],
  inArray,
});
const flag = (param: string): Filter => ({ param, kind: 'boolean', path: [param] });
const oneOf = (param: string, values: readonly string[]): Filter => ({ param, kind: values, path: [param] });

const FILTERS: Readonly<Record<string, readonly Filter[]>> = {
  clients: [flag('is_active')],
  contacts: [id('client_id')],
  invoices: [
    id('client_id'),
    id('project_id', 'line_items'),
    oneOf('state', ['draft', 'open', 'paid', 'closed']),
  ],
  estimates: [id('client_id'), oneOf('state', ['draft', 'sent', 'accepted', 'declined'])],
  expenses: [
    id('user_id'),
    id('client_id'),
    id('project_id'),
    flag('is_billed'),
    oneOf('approval_status', APPROVAL),
  ],
  expense_categories: [flag('is_active')],
  projects: [flag('is_active'), id('client_id')],
  user_assignments: [id('user_id'), flag('is_active')],
  task_assignments: [flag('is_active')],
  tasks: [flag('is_active')],
  time_entries: [
    id('user_id'),
    id('client_id'),
    id('project_id'),
    id('task_id'),
    { param: 'external_reference_id', kind: 'text', path: ['external_reference', 'id'] },
    flag('is_billed'),
    flag('is_running'),
    oneOf('approval_status', APPROVAL),
  ],
  users: [flag('is_active')],
};

/** A 422 the HTTP layer turns into Harvest's body. */
export class InvalidParameter extends Error {}

/** A date as YYYY-MM-DD or YYYYMMDD (the reports' examples), as days since 1970-01-01. */
export function parseDate(value: string, name: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  // Date.UTC rolls 2024-13-01 over into 2025: only a date that comes back unchanged is one
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) {
    throw new InvalidParameter(`${name} must be a date (YYYY-MM-DD)`);
  }
  return Math.floor(ms / DAY_MS);
}

/** ISO 8601 date or date-time; a date-time without offset is taken as UTC. */
export function parseUpdatedSince(value: string): number | null {
  const m = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value);
  if (!m) return null;
  const withZone = value.length > 10 && !m[1] ? `${value}Z` : value;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  return Number.isNaN(ms) ? null : ms;
}

function valueAt(record: JsonObject, path: readonly string[]): JsonValue | undefined {
  let value: JsonValue | undefined = record;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = value[key];
  }
  return value;
}

/** The value a record must hold for `raw` to select it. */
function wanted(filter: Filter, raw: string): JsonValue {
  const { kind, param } = filter;
  if (kind === 'id') {
    if (!/^\d{1,18}$/.test(raw)) throw new InvalidParameter(`${param} must be a whole number`);
    return Number(raw);
  }
  if (kind === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new InvalidParameter(`${param} must be true or false`);
    return raw === 'true';
  }
  if (kind !== 'text' && !kind.includes(raw)) {
    throw new InvalidParameter(`${param} must be one of ${kind.join(', ')}`);
  }
  return raw;
}

function test(filter: Filter, want: JsonValue): (record: JsonObject) => boolean {
  const { inArray, path } = filter;
  if (inArray === undefined) return (r) => valueAt(r, path) === want;
  return (r) => {
    const items = r[inArray];
    return (
      Array.isArray(items) &&
      items.some(
        (it) => typeof it === 'object' && it !== null && !Array.isArray(it) && valueAt(it, path) === want,
      )
    );
  };
}

/** The selection a list request makes; `scope` (who may see what) joins the documented filters. */
export function listFilter(
  spec: ObjectSpec,
  q: URLSearchParams,
  scope: ((record: JsonObject) => boolean) | null,
): ListFilter {
  let updatedSince: number | undefined;
  const since = q.get('updated_since');
  if (since !== null && spec.incremental && spec.noUpdatedSince !== true) {
    const ms = parseUpdatedSince(since);
    if (ms === null) throw new InvalidParameter('updated_since must be an ISO 8601 date-time');
    updatedSince = ms;
  }
  const from = spec.sinceField ? q.get('from') : null;
  const to = spec.sinceField ? q.get('to') : null;
  const fromDay = from === null ? undefined : parseDate(from, 'from');
  const toDay = to === null ? undefined : parseDate(to, 'to');
  const tests = scope ? [scope] : [];
  const params: Array<readonly [string, string]> = [];
  for (const filter of FILTERS[spec.name] ?? []) {
    const raw = q.get(filter.param);
    if (raw === null) continue;
    tests.push(test(filter, wanted(filter, raw)));
    params.push([filter.param, raw]);
  }
  const predicate = tests.length === 0 ? undefined : (r: JsonObject) => tests.every((t) => t(r));
  return { updatedSince, fromDay, toDay, predicate, params };
}
