import type { FieldTree, JsonObject, JsonValue, ObjectSpec } from '../catalog/types.js';
import type { RecordView } from './store.js';

/*
 * Embedded copies. A time entry carries `client: {id, name, currency}`, `project: {id, name, code}`,
 * `task`, `user`, its user and task assignment…; Harvest renders them from the current client,
 * project… so renaming a project changes the `project.name` of every record that embeds it. Whether
 * those records' `updated_at` moves too is not documented (harvest-api-v2.md §7): an option.
 *
 * The generated records keep the names they were built with; a change to a record that others
 * embed is remembered here, and every record shown gets its copies refreshed from it.
 */

/** Nested field → the object whose record it is a copy of (which keys: the catalog's field tree). */
const EMBEDDED: Readonly<Record<string, string>> = {
  client: 'clients',
  project: 'projects',
  task: 'tasks',
  user: 'users',
  creator: 'users',
  user_assignment: 'user_assignments',
  task_assignment: 'task_assignments',
  expense_category: 'expense_categories',
  invoice: 'invoices',
};

/** One place a record embeds a copy: a top-level field, or a field of each item of a child array. */
interface Slot {
  readonly field: string;
  readonly target: string;
  /** The copy's keys, as the catalog declares them. */
  readonly tree: FieldTree;
  /** Set when the copy sits in each item of this array field (invoice line items' project). */
  readonly inArray?: string;
}

function slotsOf(fields: FieldTree, inArray?: string): Slot[] {
  return Object.entries(fields).flatMap(([field, type]) =>
    typeof type === 'object' && EMBEDDED[field]
      ? [{ field, target: EMBEDDED[field], tree: type, inArray }]
      : [],
  );
}

function slotsOfSpec(spec: ObjectSpec): Slot[] {
  return [...slotsOf(spec.fields), ...spec.children.flatMap((c) => slotsOf(c.fields, c.field))];
}

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const idOf = (v: JsonValue | undefined): JsonValue | undefined => (isObject(v) ? v.id : undefined);

/** The values a copy of this record shows: the record itself, and a user's full name. */
function sourceValues(target: string, record: JsonObject): JsonObject {
  if (target !== 'users') return record;
  return { ...record, name: `${String(record.first_name)} ${String(record.last_name)}` };
}

/** The copy with its keys taken from the current source; the same object when nothing differs. */
function refreshed(copy: JsonObject, source: JsonObject): JsonObject {
  let out: JsonObject | null = null;
  for (const key of Object.keys(copy)) {
    if (key === 'id' || !(key in source) || isObject(source[key]) || copy[key] === source[key]) continue;
    out ??= { ...copy };
    out[key] = source[key];
  }
  return out ?? copy;
}

export class EmbeddedCopies {
  /** target object → id → the values its copies show now (only records changed since start). */
  private readonly current = new Map<string, Map<number, JsonObject>>();
  private readonly slots = new Map<string, Slot[]>();
  /** target object → the keys (besides id) that some record's copy of it holds. */
  private readonly copied = new Map<string, Set<string>>();

  constructor(objects: readonly ObjectSpec[]) {
    for (const spec of objects) this.slots.set(spec.name, slotsOfSpec(spec));
    for (const slot of [...this.slots.values()].flat()) {
      const keys = this.copied.get(slot.target) ?? new Set<string>();
      for (const key of Object.keys(slot.tree)) if (key !== 'id') keys.add(key);
      this.copied.set(slot.target, keys);
    }
  }

  /**
   * Remembers what copies of `after` show from now on. Returns whether a value some record embeds
   * changed (a rename), so that the caller can move those records' updated_at when so configured.
   */
  changed(target: string, before: JsonObject, after: JsonObject): boolean {
    const keys = this.copied.get(target);
    if (!keys) return false;
    const was = sourceValues(target, before);
    const now = sourceValues(target, after);
    let byId = this.current.get(target);
    if (!byId) this.current.set(target, (byId = new Map()));
    byId.set(after.id as number, now);
    return [...keys].some((k) => was[k] !== now[k]);
  }

  /** Objects whose records embed copies of `target`, with the slots that hold them. */
  embeddersOf(target: string): [string, Slot[]][] {
    return [...this.slots].flatMap(([object, slots]) => {
      const mine = slots.filter((s) => s.target === target);
      return mine.length > 0 ? [[object, mine] as [string, Slot[]]] : [];
    });
  }

  /** Whether `record` embeds a copy of `target` record `id` in one of these slots. */
  static embeds(record: JsonObject, slots: readonly Slot[], id: number): boolean {
    const copyOf = (holder: JsonValue, field: string) => isObject(holder) && idOf(holder[field]) === id;
    return slots.some((slot) => {
      if (slot.inArray === undefined) return copyOf(record, slot.field);
      const items = record[slot.inArray];
      return Array.isArray(items) && items.some((it) => copyOf(it, slot.field));
    });
  }

  /** Refreshes the copies `object`'s records carry; null when the object embeds nothing. */
  view(object: string): RecordView | null {
    const slots = this.slots.get(object) ?? [];
    if (slots.length === 0) return null;
    return (record) => {
      let out = record;
      for (const slot of slots) {
        const byId = this.current.get(slot.target);
        if (!byId || byId.size === 0) continue;
        const fresh = (copy: JsonValue | undefined): JsonValue | undefined => {
          const source = isObject(copy) && typeof copy.id === 'number' ? byId.get(copy.id) : undefined;
          return source && isObject(copy) ? refreshed(copy, source) : copy;
        };
        if (slot.inArray === undefined) {
          const value = fresh(out[slot.field]);
          if (value !== out[slot.field]) out = { ...out, [slot.field]: value as JsonValue };
          continue;
        }
        const items = out[slot.inArray];
        if (!Array.isArray(items)) continue;
        const next = items.map((it) => {
          if (!isObject(it)) return it;
          const value = fresh(it[slot.field]);
          return value === it[slot.field] ? it : { ...it, [slot.field]: value as JsonValue };
        });
        if (next.some((it, k) => it !== items[k])) out = { ...out, [slot.inArray]: next };
      }
      return out;
    };
  }
}
