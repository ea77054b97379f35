import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import type { Simulator } from '../../src/simulator/index.js';

export const USER_AGENT = 'harvest-sync tests (dev@example.com)';

export function headers(sim: Simulator, token = sim.adminToken): Record<string, string> {
  return { Authorization: `Bearer ${token}`, 'Harvest-Account-Id': sim.accountId, 'User-Agent': USER_AGENT };
}

export interface Got {
  status: number;
  headers: Headers;
  text: string;
  json: JsonObject;
}

/** GET a path (or absolute URL) of the simulator with the admin token unless told otherwise. */
export async function get(
  sim: Simulator,
  pathOrUrl: string,
  init: { token?: string; headers?: Record<string, string> } = {},
): Promise<Got> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${sim.url}${pathOrUrl}`;
  const res = await fetch(url, { headers: init.headers ?? headers(sim, init.token) });
  const text = await res.text();
  let json: JsonObject = {};
  if (text && (res.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text) as JsonObject;
  return { status: res.status, headers: res.headers, text, json };
}

export interface Walk {
  pages: JsonObject[];
  records: JsonObject[];
}

/** Follows links.next from a first page to the end, as the connector does. */
export async function walk(
  sim: Simulator,
  firstPath: string,
  envelope: string,
  token?: string,
): Promise<Walk> {
  const pages: JsonObject[] = [];
  const records: JsonObject[] = [];
  let next: string | null = firstPath;
  while (next !== null) {
    const page = await get(sim, next, { token });
    if (page.status !== 200) throw new Error(`${next} answered ${page.status}: ${page.text.slice(0, 200)}`);
    pages.push(page.json);
    records.push(...(page.json[envelope] as JsonObject[]));
    next = (page.json.links as JsonObject).next as string | null;
    if (pages.length > 10_000) throw new Error('links.next never ends');
  }
  return { pages, records };
}

/**
 * The path of an object's list. For an object listed per parent: under the parent with the most
 * records of it (several pages at a small per_page), leaving out the parents in `except`.
 */
export function listPath(sim: Simulator, spec: ObjectSpec, except: ReadonlySet<unknown> = new Set()): string {
  const key = spec.parent?.key;
  if (key === undefined) return spec.endpoint;
  const counts = new Map<unknown, number>();
  for (const record of sim.records(spec.name)) {
    if (!except.has(record[key])) counts.set(record[key], (counts.get(record[key]) ?? 0) + 1);
  }
  const [parent] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  return spec.endpoint.replace('{id}', String(parent));
}
