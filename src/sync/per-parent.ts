import { findObject } from '../catalog/objects.js';
import type { JsonObject, JsonValue, ObjectSpec, Row } from '../catalog/types.js';
import type { ChildRows } from '../destinations/destination.js';
import { CatalogError } from '../errors.js';
import { safePath } from '../harvest/client.js';
import type { FirstPageQuery, HarvestPage, HarvestSource, SourceStats } from '../harvest/types.js';
import { SyncDataError } from './errors.js';

/*
 * Objects Harvest lists per parent record (`/v2/invoices/{id}/payments`), one call per parent.
 *
 * The engine reads them as an ordinary pass over a "page" source: a page is one page of the
 * parent's list (with `updated_since` = this object's cursor on an incremental run, so only parents
 * whose updated_at moved; every parent on a full one), and its records are the children of those
 * parents, each carrying its parent's id. The page names its parents (HarvestPage.parentIds), so
 * that a parent's records that are gone from Harvest are marked deleted when it is read, as an
 * invoice's line items are. The cursor, resume position and sweep are the pass's, as for any object.
 */

/**
 * Parents per page of the parent's list: each costs a call of its own, so a page holds what a few
 * seconds of calls read, and a resumed pass re-reads at most that much.
 */
export const PARENTS_PER_PAGE = 100;
/** Children of this many parents are read side by side (the rate limiter still paces them). */
const PARENT_CONCURRENCY = 4;
/** Children per page: Harvest's largest. */
const CHILDREN_PER_PAGE = 2000;
/** idFromPosition: id = parent id × this + position. */
const POSITIONS = 1000;

/** The parent object of a per-parent object; throws if the catalog names none that exists. */
export function parentOf(spec: ObjectSpec): ObjectSpec {
  const parent = spec.parent ? findObject(spec.parent.object) : undefined;
  if (!parent) throw new CatalogError(`${spec.name}: parent object ${spec.parent?.object ?? '?'} unknown`);
  return parent;
}

/**
 * A page of an object listed per parent (or of a report's window) is written as the records of its
 * parents: each parent's rows that the page does not carry are marked deleted (the destination's
 * child-table rule).
 */
export function ownedByParents(
  batch: { rows: Row[]; children: ChildRows[] },
  table: string,
  page: HarvestPage,
): { rows: Row[]; children: ChildRows[] } {
  if (page.parentIds === undefined) return batch;
  return { rows: [], children: [{ table, parentIds: page.parentIds, rows: batch.rows }, ...batch.children] };
}

/** The HarvestSource the engine reads a per-parent object through. */
export class PerParentSource implements HarvestSource {
  private readonly source: HarvestSource;
  private readonly spec: ObjectSpec;
  private readonly key: string;
  /** The parent's list, read under this object's name (its calls count as this object's). */
  private readonly parents: ObjectSpec;

  constructor(source: HarvestSource, spec: ObjectSpec) {
    if (!spec.parent) throw new CatalogError(`${spec.name} is not listed per parent`);
    this.source = source;
    this.spec = spec;
    this.key = spec.parent.key;
    this.parents = { ...parentOf(spec), name: spec.name, access: spec.access };
  }

  /** The parent's list: changed parents (updatedSince) or all of them; never a date window. */
  firstPageUrl(_object: ObjectSpec, query: FirstPageQuery): string {
    return this.source.firstPageUrl(this.parents, {
      perPage: Math.min(query.perPage, PARENTS_PER_PAGE),
      ...(query.updatedSince !== undefined ? { updatedSince: query.updatedSince } : {}),
    });
  }

  async fetchPage(_object: ObjectSpec, url: string, signal?: AbortSignal): Promise<HarvestPage> {
    const page = await this.source.fetchPage(this.parents, url, signal);
    const parentIds = page.records.map((parent) => this.parentId(parent, url));
    const lists: JsonObject[][] = new Array<JsonObject[]>(parentIds.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < parentIds.length; i = next++)
        lists[i] = await this.children(parentIds[i], signal);
    };
    await Promise.all(Array.from({ length: Math.min(PARENT_CONCURRENCY, parentIds.length) }, worker));
    // the parents' count is no count of this object's records
    return { ...page, records: lists.flat(), parentIds, totalEntries: null };
  }

  /**
   * Harvest has no GET by id for these (a payment is read under its invoice): a row a full pass did
   * not see belongs to no parent Harvest listed, so it is gone with its parent.
   */
  async fetchRecord(): Promise<JsonObject | null> {
    return null;
  }

  stats(object: string): SourceStats {
    return this.source.stats(object);
  }

  private parentId(parent: JsonObject, url: string): number {
    const id = parent.id;
    if (typeof id === 'number' && Number.isInteger(id)) return id;
    throw new SyncDataError(
      `${this.spec.name}: a record of ${this.spec.parent?.object ?? 'the parent'} listed by GET ${pathOf(url)} has no numeric id; nothing of this page was written`,
    );
  }

  /** Every record of one parent, each with the parent's id (and ids for children that lack one). */
  private async children(parentId: number, signal?: AbortSignal): Promise<JsonObject[]> {
    const spec = { ...this.spec, endpoint: this.spec.endpoint.replace('{id}', String(parentId)) };
    let url: string | null = this.source.firstPageUrl(spec, { perPage: CHILDREN_PER_PAGE });
    const seen = new Set<string>();
    const records: JsonObject[] = [];
    while (url !== null) {
      if (seen.has(url)) {
        throw new SyncDataError(`${this.spec.name}: Harvest's links.next loops on GET ${pathOf(url)}`);
      }
      seen.add(url);
      const page: HarvestPage = await this.source.fetchPage(spec, url, signal);
      for (const record of page.records) records.push(this.withIds(record, parentId));
      url = page.nextUrl;
    }
    return records;
  }

  private withIds(record: JsonObject, parentId: number): JsonObject {
    const out: JsonObject = { [this.key]: parentId, ...record };
    for (const child of this.spec.children) {
      const items = record[child.field];
      if (!child.idFromPosition || !Array.isArray(items) || typeof record.id !== 'number') continue;
      if (items.length > POSITIONS) {
        throw new SyncDataError(
          `${this.spec.name}: record ${record.id} has ${items.length} ${child.field}; at most ${POSITIONS} can be kept`,
        );
      }
      const id = record.id;
      const ownId = child.idFromPosition.ownId;
      out[child.field] = items.map((item, position): JsonValue => {
        if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
        const { id: own, ...rest } = item;
        const kept = ownId !== undefined && own !== undefined ? { [ownId]: own } : {};
        return { id: id * POSITIONS + position, ...kept, ...rest };
      });
    }
    return out;
  }
}

/** Path and query of a URL, for messages: never its origin. */
function pathOf(url: string): string {
  return URL.canParse(url) ? safePath(new URL(url)) : url.slice(0, 200);
}
