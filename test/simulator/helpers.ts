import type { JsonObject } from '../../src/catalog/types.js';
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
