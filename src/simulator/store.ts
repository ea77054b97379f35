import type { JsonObject, JsonValue, ObjectSpec } from '../catalog/types.js';
import type { GeneratedObject } from './generate.js';
import { DAY_MS, dayToDate, isoSeconds } from './generate.js';
import { SimulatorError } from './errors.js';

/** What a list request selects, already parsed and validated. */
export interface ListFilter {
  /** Inclusive lower bound on updated_at, in ms. */
  readonly updatedSince?: number;
  /** Inclusive business-date bounds, as days since 1970-01-01. */
  readonly fromDay?: number;
  readonly toDay?: number;
  /** Any other condition (user_id, is_active, member scoping…). */
  readonly predicate?: (record: JsonObject) => boolean;
  /** The documented filters given (name and raw value), which a generated object may answer cheaply. */
  readonly params?: ReadonlyArray<readonly [string, string]>;
}

export interface Slice {
  readonly total: number;
  readonly items: JsonObject[];
}

/** A field the API started sending (schema drift), computed from each record. */
export interface DriftField {
  readonly path: readonly string[];
  readonly valueOf: (record: JsonObject) => JsonValue;
}

/**
 * The current records of one object: the generated base plus an overlay of changes. Newest first:
 * by business date (objects that have one) then id, otherwise by id (= creation order).
 */
export interface ObjectStore {
  readonly spec: ObjectSpec;
  count(): number;
  get(id: number): JsonObject | undefined;
  /** Records at [offset, offset + limit) of the filtered list, and the filtered total. */
  slice(filter: ListFilter, offset: number, limit: number): Slice;
  /** Keyset paging: the first `limit` filtered records with an id below `beforeId`. */
  after(filter: ListFilter, beforeId: number | null, limit: number): Slice & { readonly more: boolean };
  update(id: number, patch: JsonObject, nowMs: number): JsonObject;
  create(fields: JsonObject, nowMs: number): JsonObject;
  remove(id: number): boolean;
  addField(field: DriftField): void;
  /** How every record is shown, on top of what is stored (embedded copies, timers, vintage). */
  setView(view: RecordView | null): void;
  records(): Generator<JsonObject>;
}

/** Turns a stored record into what the API sends now; returns a new object, never mutates. */
export type RecordView = (record: JsonObject) => JsonObject;

const dayOfDate = (value: JsonValue | undefined): number | null =>
  typeof value === 'string' ? Math.floor(Date.parse(value.slice(0, 10)) / DAY_MS) : null;

/** True when (aDay, aId) comes before (bDay, bId) newest-first; a null date counts as newest (a fresh draft). */
function before(aDay: number | null, aId: number, bDay: number | null, bId: number): boolean {
  if (aDay !== bDay) {
    if (aDay === null) return true;
    if (bDay === null) return false;
    return aDay > bDay;
  }
  return aId > bId;
}

function isPlainObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Nested objects merge key by key (so a test can rename `client.name` alone); arrays are replaced. */
export function deepMerge(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value;
  }
  return out;
}

function clone<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

function updatedMs(record: JsonObject): number {
  return Date.parse(record.updated_at as string);
}

function matches(record: JsonObject, filter: ListFilter, dateField: string | undefined): boolean {
  if (filter.updatedSince !== undefined && !(updatedMs(record) >= filter.updatedSince)) return false;
  if (dateField && (filter.fromDay !== undefined || filter.toDay !== undefined)) {
    const day = dayOfDate(record[dateField]);
    if (day === null) return false;
    if (filter.fromDay !== undefined && day < filter.fromDay) return false;
    if (filter.toDay !== undefined && day > filter.toDay) return false;
  }
  return filter.predicate ? filter.predicate(record) : true;
}

/** Shared by both stores: timestamps, fresh child ids and schema drift. */
abstract class BaseStore implements ObjectStore {
  protected readonly drift: DriftField[] = [];
  private view: RecordView | null = null;
  protected nextChildId = 900_000_000;
  protected readonly dateField: string | undefined;

  constructor(readonly spec: ObjectSpec) {
    this.dateField = spec.sinceField;
  }

  abstract count(): number;
  protected abstract raw(id: number): JsonObject | undefined;
  protected abstract rawSlice(filter: ListFilter, offset: number, limit: number): Slice;
  protected abstract rawAfter(
    filter: ListFilter,
    beforeId: number | null,
    limit: number,
  ): Slice & { more: boolean };
  protected abstract put(record: JsonObject, replacing: boolean): void;
  protected abstract template(): JsonObject;
  protected abstract nextId(): number;
  abstract remove(id: number): boolean;

  get(id: number): JsonObject | undefined {
    const record = this.raw(id);
    return record && this.decorate(record);
  }

  slice(filter: ListFilter, offset: number, limit: number): Slice {
    const s = this.rawSlice(filter, offset, limit);
    return this.plain() ? s : { total: s.total, items: s.items.map((r) => this.decorate(r)) };
  }

  after(filter: ListFilter, beforeId: number | null, limit: number): Slice & { more: boolean } {
    const s = this.rawAfter(filter, beforeId, limit);
    return this.plain() ? s : { ...s, items: s.items.map((r) => this.decorate(r)) };
  }

  setView(view: RecordView | null): void {
    this.view = view;
  }

  private plain(): boolean {
    return this.drift.length === 0 && this.view === null;
  }

  *records(): Generator<JsonObject> {
    const chunk = 1000;
    for (let offset = 0; ; offset += chunk) {
      const { items } = this.slice({}, offset, chunk);
      yield* items;
      if (items.length < chunk) return;
    }
  }

  update(id: number, patch: JsonObject, nowMs: number): JsonObject {
    const current = this.raw(id);
    if (!current) throw new SimulatorError(`${this.spec.name} ${id} does not exist`);
    if ('id' in patch && patch.id !== id) throw new SimulatorError('the id of a record cannot be changed');
    const next = deepMerge(current, this.withChildIds(patch));
    if (!('updated_at' in patch)) {
      // updated_at must move forward even when the injected clock is behind the generated data
      next.updated_at = isoSeconds(Math.max(nowMs, updatedMs(current) + 1000));
    }
    this.put(next, true);
    return this.decorate(next);
  }

  create(fields: JsonObject, nowMs: number): JsonObject {
    const template = this.template();
    const stamp = isoSeconds(nowMs);
    const base: JsonObject = { ...template, id: this.nextId(), created_at: stamp, updated_at: stamp };
    if (this.dateField) base[this.dateField] = dayToDate(Math.floor(nowMs / DAY_MS));
    for (const child of this.spec.children) {
      const items = base[child.field];
      if (Array.isArray(items))
        base[child.field] = items.map((it) => ({ ...(it as JsonObject), id: this.nextChildId++ }));
    }
    const record = deepMerge(base, this.withChildIds(fields));
    this.put(record, false);
    return this.decorate(record);
  }

  addField(field: DriftField): void {
    this.drift.push(field);
  }

  /** Line items given without an id get a fresh one, as Harvest assigns on save. */
  private withChildIds(patch: JsonObject): JsonObject {
    let out = patch;
    for (const child of this.spec.children) {
      const items = patch[child.field];
      if (!Array.isArray(items)) continue;
      out = {
        ...out,
        [child.field]: items.map((it) => {
          const item = it as JsonObject;
          return typeof item.id === 'number' ? item : { id: this.nextChildId++, ...item };
        }),
      };
    }
    return out;
  }

  private decorate(stored: JsonObject): JsonObject {
    const record = this.view ? this.view(stored) : stored;
    if (this.drift.length === 0) return record;
    const out: JsonObject = { ...record };
    for (const { path, valueOf } of this.drift) {
      let target = out;
      for (const key of path.slice(0, -1)) {
        const inner = target[key];
        if (!isPlainObject(inner)) {
          target = {};
          break;
        }
        target[key] = { ...inner };
        target = target[key] as JsonObject;
      }
      target[path[path.length - 1]] = valueOf(record);
    }
    return out;
  }
}

/** Small objects: every record in a map; lists are built by sorting (a few thousand at most). */
class MaterializedStore extends BaseStore {
  private readonly byId = new Map<number, JsonObject>();
  private sorted: JsonObject[] | null = null;
  private created = 0;

  constructor(
    spec: ObjectSpec,
    records: readonly JsonObject[],
    private readonly seed: number,
  ) {
    super(spec);
    for (const r of records) this.byId.set(r.id as number, r);
  }

  count(): number {
    return this.byId.size;
  }

  protected raw(id: number): JsonObject | undefined {
    return this.byId.get(id);
  }

  private list(filter: ListFilter): JsonObject[] {
    if (!this.sorted) {
      const df = this.dateField;
      this.sorted = [...this.byId.values()].sort((a, b) =>
        before(df ? dayOfDate(a[df]) : null, a.id as number, df ? dayOfDate(b[df]) : null, b.id as number)
          ? -1
          : 1,
      );
    }
    const all = this.sorted;
    const plain = filter.updatedSince === undefined && !filter.predicate && filter.fromDay === undefined;
    return plain && filter.toDay === undefined ? all : all.filter((r) => matches(r, filter, this.dateField));
  }

  protected rawSlice(filter: ListFilter, offset: number, limit: number): Slice {
    const list = this.list(filter);
    return { total: list.length, items: list.slice(offset, offset + limit) };
  }

  protected rawAfter(filter: ListFilter, beforeId: number | null, limit: number): Slice & { more: boolean } {
    const list = this.list(filter);
    let start = 0;
    if (beforeId !== null) {
      // keyset on id: records created or deleted between two pages neither repeat nor shift the walk
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((list[mid].id as number) >= beforeId) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const items = list.slice(start, start + limit);
    return { total: list.length, items, more: start + limit < list.length };
  }

  protected put(record: JsonObject): void {
    this.byId.set(record.id as number, record);
    this.sorted = null;
  }

  remove(id: number): boolean {
    const had = this.byId.delete(id);
    if (had) this.sorted = null;
    return had;
  }

  protected template(): JsonObject {
    const all = [...this.byId.values()];
    if (all.length === 0) throw new SimulatorError(`no ${this.spec.name} left to model a new one on`);
    return clone(all[(this.seed + this.created++) % all.length]);
  }

  protected nextId(): number {
    let max = 0;
    for (const id of this.byId.keys()) if (id > max) max = id;
    return max + 1 + (this.created % 3);
  }
}

/**
 * Big objects: a generated base addressed by index, with holes where a generated record was
 * deleted or edited, and an overlay of edited and created records. Pages cost O(overlay + page)
 * unless a filter needs a scan (member scoping, user_id, updated_since before the data was made).
 */
class GeneratedStore extends BaseStore {
  private readonly holes = new Set<number>();
  private holesSorted: number[] | null = null;
  private readonly overlay = new Map<number, JsonObject>();
  private overlaySorted: JsonObject[] | null = null;
  private created = 0;
  private maxId: number;

  constructor(
    spec: ObjectSpec,
    private readonly source: GeneratedObject,
    private readonly epochMs: number,
    private readonly seed: number,
  ) {
    super(spec);
    this.maxId = source.count > 0 ? source.idOf(0) : 0;
  }

  count(): number {
    return this.source.count - this.holes.size + this.overlay.size;
  }

  protected raw(id: number): JsonObject | undefined {
    const o = this.overlay.get(id);
    if (o) return o;
    const i = this.source.indexOfId(id);
    return i >= 0 && !this.holes.has(i) ? this.source.render(i) : undefined;
  }

  protected put(record: JsonObject): void {
    const id = record.id as number;
    const i = this.source.indexOfId(id);
    if (i >= 0) this.addHole(i);
    this.overlay.set(id, record);
    this.overlaySorted = null;
    if (id > this.maxId) this.maxId = id;
  }

  remove(id: number): boolean {
    if (this.overlay.delete(id)) {
      this.overlaySorted = null;
      return true;
    }
    const i = this.source.indexOfId(id);
    if (i < 0 || this.holes.has(i)) return false;
    this.addHole(i);
    return true;
  }

  private addHole(i: number): void {
    this.holes.add(i);
    this.holesSorted = null;
  }

  protected template(): JsonObject {
    const n = this.source.count;
    let i = (this.seed * 7919 + this.created++ * 104729) % n;
    // one running timer per user: a new record is never modelled on a running one
    for (let k = 0; k < n && this.source.render(i).is_running === true; k++) i = (i + 1) % n;
    return this.source.render(i);
  }

  protected nextId(): number {
    this.maxId += 1 + (this.created % 3);
    return this.maxId;
  }

  private key(record: JsonObject): [number | null, number] {
    return [this.dateField ? dayOfDate(record[this.dateField]) : null, record.id as number];
  }

  /** First index in [lo, hi) whose business date is strictly older than `day` (dates never increase). */
  private firstOlderThan(day: number, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.source.dayOf(mid) >= day) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The generated index range a date filter selects. */
  private range(filter: ListFilter): [number, number] {
    const n = this.source.count;
    const lo = filter.toDay === undefined ? 0 : this.firstOlderThan(filter.toDay + 1, 0, n);
    const hi = filter.fromDay === undefined ? n : this.firstOlderThan(filter.fromDay, lo, n);
    return [lo, hi];
  }

  private sortedHoles(): number[] {
    this.holesSorted ??= [...this.holes].sort((a, b) => a - b);
    return this.holesSorted;
  }

  /** Number of holes below index i. */
  private holesBelow(i: number): number {
    const h = this.sortedHoles();
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (h[mid] < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private overlayMatching(filter: ListFilter): JsonObject[] {
    if (!this.overlaySorted) {
      this.overlaySorted = [...this.overlay.values()].sort((a, b) => {
        const [ad, ai] = this.key(a);
        const [bd, bi] = this.key(b);
        return before(ad, ai, bd, bi) ? -1 : 1;
      });
    }
    return this.overlaySorted.filter((r) => matches(r, filter, this.dateField));
  }

  protected rawSlice(filter: ListFilter, offset: number, limit: number): Slice {
    const overlay = this.overlayMatching(filter);
    const [lo, end] = this.range(filter);
    let hi = end;
    // generated records all predate the epoch: a later updated_since can only match the overlay
    if (filter.updatedSince !== undefined && filter.updatedSince >= this.epochMs) hi = lo;
    if (filter.predicate || (filter.updatedSince !== undefined && hi > lo)) {
      return this.scan(filter, { lo, hi, only: this.candidates(filter) }, overlay, { offset, limit });
    }
    return this.direct(lo, hi, overlay, offset, limit);
  }

  /** Positional access without touching the records before the page. */
  private direct(lo: number, hi: number, overlay: JsonObject[], offset: number, limit: number): Slice {
    const src = this.source;
    const holesLo = this.holesBelow(lo);
    const baseCount = hi - lo - (this.holesBelow(hi) - holesLo);
    const total = baseCount + overlay.length;
    // merged position of each overlay record = its rank + the base records that sort before it
    const positions = overlay.map((record, j) => {
      const [day, id] = this.key(record);
      let a = lo;
      let b = hi;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (before(src.dayOf(mid), src.idOf(mid), day, id)) a = mid + 1;
        else b = mid;
      }
      return j + (a - lo) - (this.holesBelow(a) - holesLo);
    });
    const items: JsonObject[] = [];
    const end = Math.min(total, offset + limit);
    let j = 0;
    while (j < positions.length && positions[j] < offset) j++;
    // index of the base record of rank (offset - j), stepping over holes
    const holes = this.sortedHoles();
    let h = holesLo;
    let i = lo + (offset - j);
    while (h < holes.length && holes[h] <= i) {
      if (holes[h] >= lo) i++;
      h++;
    }
    for (let p = offset; p < end; p++) {
      if (j < positions.length && positions[j] === p) {
        items.push(overlay[j++]);
        continue;
      }
      items.push(src.render(i));
      i++;
      while (h < holes.length && holes[h] === i) {
        i++;
        h++;
      }
    }
    return { total, items };
  }

  /**
   * The only base indices a filter can select, ascending, when the generated object knows them
   * without rendering (time entries' running timers: a few of the newest); undefined: any may.
   */
  private candidates(filter: ListFilter): readonly number[] | undefined {
    for (const [param, raw] of filter.params ?? []) {
      const only = this.source.candidates?.(param, raw);
      if (only !== undefined) return only;
    }
    return undefined;
  }

  /** One pass over the range (or its candidates), rendering only what a cheap check cannot rule out. */
  private scan(
    filter: ListFilter,
    range: { readonly lo: number; readonly hi: number; readonly only?: readonly number[] },
    overlay: JsonObject[],
    page: { readonly offset: number; readonly limit: number },
  ): Slice {
    const src = this.source;
    const { lo, hi, only } = range;
    const { offset } = page;
    const items: JsonObject[] = [];
    const end = offset + page.limit;
    let total = 0;
    let j = 0;
    const take = (record: JsonObject) => {
      if (total >= offset && total < end) items.push(record);
      total++;
    };
    const count = only ? only.length : hi - lo;
    for (let k = 0; k < count; k++) {
      const i = only ? only[k] : lo + k;
      if (i < lo || i >= hi) continue;
      if (this.holes.has(i)) continue;
      if (filter.updatedSince !== undefined && src.updatedAtOf(i) < filter.updatedSince) continue;
      let record: JsonObject | undefined;
      if (filter.predicate) {
        record = src.render(i);
        if (!filter.predicate(record)) continue;
      }
      const day = src.dayOf(i);
      const id = src.idOf(i);
      while (j < overlay.length) {
        const [od, oid] = this.key(overlay[j]);
        if (!before(od, oid, day, id)) break;
        take(overlay[j++]);
      }
      if (total >= offset && total < end) items.push(record ?? src.render(i));
      total++;
    }
    while (j < overlay.length) take(overlay[j++]);
    return { total, items };
  }

  protected rawAfter(filter: ListFilter, beforeId: number | null, limit: number): Slice & { more: boolean } {
    // every big object is page-based in Harvest; keyset on id would need id order, which these lack
    void filter;
    void beforeId;
    void limit;
    throw new SimulatorError(`${this.spec.name} does not support cursor paging`);
  }
}

export function materializedStore(
  spec: ObjectSpec,
  records: readonly JsonObject[],
  seed: number,
): ObjectStore {
  return new MaterializedStore(spec, records, seed);
}

export function generatedStore(
  spec: ObjectSpec,
  source: GeneratedObject,
  epochMs: number,
  seed: number,
): ObjectStore {
  return new GeneratedStore(spec, source, epochMs, seed);
}
