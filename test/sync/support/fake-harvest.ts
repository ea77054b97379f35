import type { FieldTree, JsonObject, JsonValue, ObjectSpec } from '../../../src/catalog/types.js';
import { statusError } from '../../../src/harvest/errors.js';
import type { FirstPageQuery, HarvestPage, HarvestSource, SourceStats } from '../../../src/harvest/types.js';

const ORIGIN = 'https://fake-harvest.test';

/** Harvest's own error bodies (harvest-api-v2.md §5): without one, a 401/403/404 is not Harvest's answer. */
const HARVEST_ERROR_BODIES: Record<number, string> = {
  401: '{"error":"invalid_token","error_description":"The access token provided is expired, revoked, malformed or invalid for other reasons."}',
  403: '{"message":"Not authorized!"}',
  404: '{"status":404,"error":"Not Found"}',
};

/** Builds a record of `spec` from its field tree, every value derived from `id` (and `salt`). */
export function makeRecord(spec: ObjectSpec, id: number, updatedAt: string, salt = ''): JsonObject {
  const record = fill(spec.fields, id, salt);
  record.id = id;
  record.updated_at = updatedAt;
  record.created_at = updatedAt;
  if (spec.sinceField) record[spec.sinceField] = `2024-${pad((id % 12) + 1)}-${pad((id % 28) + 1)}`;
  // no running timers unless a test starts one
  if (spec.runningFilter) record[spec.runningFilter] = false;
  // listed per parent: under one of the parents 1–3 (seed the parent with at least three)
  if (spec.parent) record[spec.parent.key] = (id % 3) + 1;
  for (const child of spec.children) {
    record[child.field] = [1, 2].map((k) => {
      const item = fill(child.fields, id * 10 + k, salt);
      item.id = id * 10 + k;
      // Harvest sends the item's own id as `id`; harvest-sync keeps it in this column
      const position = child.idFromPosition;
      if (position?.ownId !== undefined) delete item[position.ownId];
      else if (position) delete item.id;
      return item;
    });
  }
  return record;
}

function fill(tree: FieldTree, id: number, salt: string): JsonObject {
  const out: JsonObject = {};
  for (const [field, type] of Object.entries(tree)) {
    if (typeof type !== 'string') {
      out[field] = fill(type, id, salt);
      continue;
    }
    const values: Record<string, JsonValue> = {
      bigint: id * 7,
      integer: id % 1000,
      decimal: id + 0.25,
      boolean: id % 2 === 0,
      date: `2024-01-${pad((id % 28) + 1)}`,
      timestamp: `2024-02-${pad((id % 28) + 1)}T10:00:00Z`,
      time: '9:15am',
      text: `${field} ${id}${salt}`,
      json: [id, salt],
    };
    out[field] = values[type];
  }
  return out;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * An in-memory Harvest for engine tests: page-based lists ordered like Harvest's (business date or
 * creation, newest first — never by updated_at), `updated_since` and `from` filters, a clock the test
 * moves, request log, error injection and a hook that runs before each page is answered.
 */
export class FakeHarvest implements HarvestSource {
  private readonly data = new Map<string, Map<number, JsonObject>>();
  private readonly counters = new Map<string, SourceStats>();
  /** Harvest's clock (ms); each answer's serverTime, truncated to the second like a Date header. */
  time = Date.parse('2025-03-01T12:00:00Z');
  /** Every URL fetched, in order, with its object. */
  readonly requests: Array<{ object: string; url: string }> = [];
  /** Runs before a page is answered: may edit data, throw, or wait. */
  beforePage?: (object: string, url: URL) => void | Promise<void>;
  /** Replaces a page's records as sent (e.g. to send a malformed one). */
  rewriteRecords?: (object: string, records: JsonObject[], url: URL) => JsonObject[];
  /** Replaces the computed `links.next` (e.g. to make pagination loop). */
  rewriteNext?: (object: string, next: string | null, url: URL) => string | null;
  private readonly statuses = new Map<string, number>();

  constructor(private readonly specs: readonly ObjectSpec[]) {
    for (const spec of specs) this.data.set(spec.name, new Map());
  }

  now(): string {
    return new Date(this.time).toISOString();
  }

  /** Adds or replaces `count` generated records with ids from `firstId`. */
  seed(object: string, count: number, firstId = 1): void {
    for (let id = firstId; id < firstId + count; id++)
      this.put(object, makeRecord(this.spec(object), id, this.now()));
  }

  /** Stores a record as Harvest would after an edit: updated_at is now. */
  put(object: string, record: JsonObject): void {
    this.table(object).set(record.id as number, { ...record, updated_at: this.now() });
  }

  /** Stores a record exactly as given, updated_at included (one listed again just as it was). */
  restore(object: string, record: JsonObject): void {
    this.table(object).set(record.id as number, record);
  }

  edit(object: string, id: number, change: (record: JsonObject) => void): void {
    const record = structuredClone(this.get(object, id));
    change(record);
    this.put(object, record);
  }

  get(object: string, id: number): JsonObject {
    const record = this.table(object).get(id);
    if (!record) throw new Error(`no ${object} ${id}`);
    return record;
  }

  remove(object: string, id: number): void {
    this.table(object).delete(id);
  }

  /** Records in the order Harvest lists them (business date, then creation, newest first). */
  listed(object: string): JsonObject[] {
    const sinceField = this.spec(object).sinceField;
    return [...this.table(object).values()].sort((a, b) => {
      const byDate = sinceField ? String(b[sinceField]).localeCompare(String(a[sinceField])) : 0;
      return byDate !== 0 ? byDate : (b.id as number) - (a.id as number);
    });
  }

  /** Every record of an object, ascending id. */
  records(object: string): JsonObject[] {
    return [...this.table(object).values()].sort((a, b) => (a.id as number) - (b.id as number));
  }

  /** Makes every call for `object` answer this HTTP status (undefined to stop). */
  failWith(object: string, status: number | undefined): void {
    if (status === undefined) this.statuses.delete(object);
    else this.statuses.set(object, status);
  }

  callsFor(object: string): number {
    return this.stats(object).calls;
  }

  firstPageUrl(object: ObjectSpec, query: FirstPageQuery): string {
    const url = new URL(object.endpoint, ORIGIN);
    url.searchParams.set('per_page', String(query.perPage));
    if (query.updatedSince) url.searchParams.set('updated_since', query.updatedSince);
    if (query.from) url.searchParams.set('from', query.from);
    if (query.to) url.searchParams.set('to', query.to);
    if (query.page !== undefined) url.searchParams.set('page', String(query.page));
    if (query.running && object.runningFilter) url.searchParams.set(object.runningFilter, 'true');
    return url.toString();
  }

  async fetchPage(object: ObjectSpec, href: string, signal?: AbortSignal): Promise<HarvestPage> {
    signal?.throwIfAborted();
    const stats = this.stats(object.name);
    stats.calls += 1;
    this.requests.push({ object: object.name, url: href });
    const url = new URL(href);
    await this.beforePage?.(object.name, url);
    signal?.throwIfAborted();
    const status = this.statuses.get(object.name);
    if (status !== undefined) {
      throw statusError({
        status,
        statusText: '',
        object: object.name,
        path: `${url.pathname}${url.search}`,
        bodyText: HARVEST_ERROR_BODIES[status] ?? '',
        access: object.access,
      });
    }
    const { name, under } = this.listedAt(object, url);
    const perPage = Number(url.searchParams.get('per_page') ?? object.defaultPerPage);
    const page = Number(url.searchParams.get('page') ?? '1');
    const updatedSince = url.searchParams.get('updated_since');
    const from = url.searchParams.get('from');
    const to = url.searchParams.get('to');
    const listed = this.spec(name);
    const sinceField = listed.sinceField;
    const running = listed.runningFilter && url.searchParams.get(listed.runningFilter) === 'true';
    const matching = this.listed(name)
      .filter(under)
      .filter((r) => !running || r[listed.runningFilter as string] === true)
      .filter((r) => updatedSince === null || (r.updated_at as string) >= updatedSince)
      .filter((r) => from === null || sinceField === undefined || (r[sinceField] as string) >= from)
      .filter((r) => to === null || sinceField === undefined || (r[sinceField] as string) <= to);
    let records = matching.slice((page - 1) * perPage, page * perPage).map((r) => structuredClone(r));
    // the parent's id is in the URL, not in the records
    const key = this.spec(name).parent?.key;
    if (key !== undefined) records = records.map(({ [key]: _parent, ...rest }) => rest);
    if (this.rewriteRecords) records = this.rewriteRecords(object.name, records, url);
    let next: string | null = null;
    if (page * perPage < matching.length) {
      const nextUrl = new URL(url);
      nextUrl.searchParams.set('page', String(page + 1));
      next = nextUrl.toString();
    }
    if (this.rewriteNext) next = this.rewriteNext(object.name, next, url);
    return {
      records,
      nextUrl: next,
      serverTime: new Date(Math.floor(this.time / 1000) * 1000).toISOString(),
      totalEntries: matching.length,
    };
  }

  async fetchRecord(object: ObjectSpec, id: number, signal?: AbortSignal): Promise<JsonObject | null> {
    signal?.throwIfAborted();
    this.stats(object.name).calls += 1;
    const href = `${ORIGIN}${object.endpoint}/${id}`;
    this.requests.push({ object: object.name, url: href });
    await this.beforePage?.(object.name, new URL(href));
    const record = this.table(object.name).get(id);
    return record ? structuredClone(record) : null;
  }

  stats(object: string): SourceStats {
    let stats = this.counters.get(object);
    if (!stats) this.counters.set(object, (stats = { calls: 0, rateLimitWaits: 0, retries: 0 }));
    return stats;
  }

  /**
   * Which records a URL lists, by its path as Harvest routes it (the object's name only counts the
   * call): an object's list, or one parent's records of an object listed per parent
   * (`/v2/invoices/{id}/payments`); the object's own when the path is none of these.
   */
  private listedAt(object: ObjectSpec, url: URL): { name: string; under: (r: JsonObject) => boolean } {
    const direct = this.specs.find((s) => s.endpoint === url.pathname);
    if (direct) return { name: direct.name, under: () => true };
    for (const spec of this.specs) {
      const [before, after] = spec.endpoint.split('{id}');
      const id =
        url.pathname.startsWith(before) && url.pathname.endsWith(after ?? '\u0000')
          ? Number(url.pathname.slice(before.length, url.pathname.length - (after ?? '').length))
          : NaN;
      const key = spec.parent?.key;
      if (key !== undefined && Number.isInteger(id)) return { name: spec.name, under: (r) => r[key] === id };
    }
    return { name: object.name, under: () => true };
  }

  private spec(object: string): ObjectSpec {
    const spec = this.specs.find((s) => s.name === object);
    if (!spec) throw new Error(`unknown object ${object}`);
    return spec;
  }

  private table(object: string): Map<number, JsonObject> {
    const table = this.data.get(object);
    if (!table) throw new Error(`unknown object ${object}`);
    return table;
  }
}
