import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get, listPath, walk } from './helpers.js';
import { TestClock } from '../support/clock.js';

let sim: Simulator;
const clock = new TestClock({ start: '2026-03-04T05:06:07Z', sleeps: 'ignore' });

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.02, seed: 3, rateLimit: null, clock });
});
afterAll(() => sim.stop());

const ids = (records: JsonObject[]) => records.map((r) => r.id as number);
const links = (page: JsonObject) => page.links as JsonObject;

describe('page-number paging (time entries)', () => {
  it('walks every page through links.next with exact page arithmetic', async () => {
    const { pages, records } = await walk(sim, '/v2/time_entries?per_page=7', 'time_entries');
    const total = pages[0].total_entries as number;
    expect(total).toBe(200);
    expect(records).toHaveLength(total);
    expect(new Set(ids(records)).size).toBe(total);
    expect(pages).toHaveLength(Math.ceil(total / 7));
    pages.forEach((page, k) => {
      const n = k + 1;
      expect(page.page).toBe(n);
      expect(page.per_page).toBe(7);
      expect(page.total_pages).toBe(pages.length);
      expect(page.previous_page).toBe(n === 1 ? null : n - 1);
      expect(page.next_page).toBe(n === pages.length ? null : n + 1);
      expect(typeof links(page).first).toBe('string');
      expect(typeof links(page).last).toBe('string');
      expect(links(page).last).toContain(`page=${pages.length}&per_page=7`);
      expect(links(page).previous === null).toBe(n === 1);
      expect((page.time_entries as JsonObject[]).length).toBe(
        n < pages.length ? 7 : total - 7 * (pages.length - 1),
      );
    });
    expect(links(pages.at(-1) as JsonObject).next).toBeNull();
  });

  it('orders newest first by spent_date, then id', async () => {
    const { records } = await walk(sim, '/v2/time_entries?per_page=50', 'time_entries');
    for (let k = 1; k < records.length; k++) {
      const [a, b] = [records[k - 1], records[k]];
      const sameDay = a.spent_date === b.spent_date;
      expect(
        sameDay ? (a.id as number) > (b.id as number) : (a.spent_date as string) > (b.spent_date as string),
      ).toBe(true);
    }
  });

  it('keeps the filters in every link', async () => {
    const first = await get(sim, '/v2/time_entries?per_page=5&from=2024-01-01&is_billed=false');
    const next = new URL(links(first.json).next as string);
    expect(next.searchParams.get('from')).toBe('2024-01-01');
    expect(next.searchParams.get('is_billed')).toBe('false');
    expect(next.searchParams.get('page')).toBe('2');
  });

  it('serves invoices 100 per page by default and everything else 2000', async () => {
    expect((await get(sim, '/v2/invoices')).json.per_page).toBe(100);
    expect((await get(sim, '/v2/time_entries')).json.per_page).toBe(2000);
    expect((await get(sim, '/v2/clients')).json.per_page).toBe(2000);
  });

  it('answers an empty selection with one page and an empty array', async () => {
    const page = await get(sim, '/v2/invoices?updated_since=2030-01-01T00:00:00Z');
    expect(page.json.invoices).toEqual([]);
    expect(page.json).toMatchObject({ total_entries: 0, total_pages: 1, page: 1, next_page: null });
    expect(typeof links(page.json).last).toBe('string');
  });
});

describe('cursor paging (clients)', () => {
  it('numbers only the first and last pages and keysets on id', async () => {
    const { pages, records } = await walk(sim, '/v2/clients?per_page=1', 'clients');
    const total = pages[0].total_entries as number;
    expect(total).toBeGreaterThanOrEqual(3);
    expect(records).toHaveLength(total);
    expect(new Set(ids(records)).size).toBe(total);
    expect(ids(records)).toEqual([...ids(records)].sort((a, b) => b - a));
    expect(pages[0]).toMatchObject({ page: 1, next_page: 2, previous_page: null });
    for (const middle of pages.slice(1, -1)) {
      expect(middle).toMatchObject({
        page: null,
        next_page: null,
        previous_page: null,
        total_entries: total,
      });
    }
    expect(pages.at(-1)).toMatchObject({ page: total, next_page: null, previous_page: total - 1 });
    pages.slice(0, -1).forEach((page, k) => {
      const next = new URL(links(page).next as string);
      expect(next.searchParams.get('ref')).toBe('next_cursor');
      const cursor = JSON.parse(
        Buffer.from(next.searchParams.get('cursor') as string, 'base64').toString(),
      ) as unknown;
      expect(cursor).toEqual({ after: { id: records[k].id } });
    });
    for (const page of pages) {
      expect(links(page).first).toMatch(/page=1&per_page=1&ref=first$/);
      expect(links(page).last).toMatch(new RegExp(`page=${total}&per_page=1&ref=last$`));
    }
  });

  it('does not repeat or skip records created or deleted between pages', async () => {
    const first = await get(sim, '/v2/tasks?per_page=2');
    const seen = ids(first.json.tasks as JsonObject[]);
    const created = sim.create('tasks', { name: 'Created mid-walk' });
    const rest = await walk(sim, links(first.json).next as string, 'tasks');
    const all = [...seen, ...ids(rest.records)];
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain(created.id);
    sim.remove('tasks', created.id as number);
  });

  it('rejects a cursor that is not one of ours', async () => {
    expect((await get(sim, '/v2/clients?cursor=not-a-cursor')).status).toBe(422);
  });
});

describe('query parameters', () => {
  it('accepts per_page 1 to 2000 and refuses anything else with 422', async () => {
    for (const ok of ['1', '2000']) expect((await get(sim, `/v2/users?per_page=${ok}`)).status).toBe(200);
    for (const bad of ['0', '2001', '-5', 'abc', '1.5']) {
      const res = await get(sim, `/v2/users?per_page=${bad}`);
      expect(res.status).toBe(422);
      expect(typeof res.json.message).toBe('string');
    }
  });

  it('filters on updated_since and refuses a malformed one', async () => {
    const all = [...sim.records('projects')];
    const since = '2021-06-01T00:00:00Z';
    const expected = all.filter((r) => (r.updated_at as string) >= since).length;
    const res = await get(sim, `/v2/projects?updated_since=${since}`);
    expect(res.json.total_entries).toBe(expected);
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(all.length);
    for (const bad of ['yesterday', '2024-13-01T00:00:00Z', '2024-01-01T25:00:00Z', '1700000000']) {
      expect((await get(sim, `/v2/projects?updated_since=${encodeURIComponent(bad)}`)).status).toBe(422);
    }
    expect((await get(sim, '/v2/projects?updated_since=2021-06-01')).status).toBe(200);
  });

  it('filters time entries and invoices on their business date with from/to', async () => {
    const from = '2024-03-01';
    const to = '2024-08-31';
    for (const [object, field] of [
      ['time_entries', 'spent_date'],
      ['invoices', 'issue_date'],
    ] as const) {
      const expected = [...sim.records(object)].filter(
        (r) => (r[field] as string) >= from && (r[field] as string) <= to,
      );
      const { records } = await walk(sim, `/v2/${object}?from=${from}&to=${to}&per_page=9`, object);
      expect(ids(records)).toEqual(ids(expected));
      expect(records.length).toBeGreaterThan(0);
    }
    expect((await get(sim, '/v2/time_entries?to=2024-02-30')).status).toBe(422);
  });

  it('filters on is_active and on a nested id', async () => {
    const all = [...sim.records('projects')];
    const active = await get(sim, '/v2/projects?is_active=true');
    expect(active.json.total_entries).toBe(all.filter((p) => p.is_active).length);
    const clientId = (all[0].client as JsonObject).id as number;
    const ofClient = await get(sim, `/v2/projects?client_id=${clientId}`);
    expect(ofClient.json.total_entries).toBe(
      all.filter((p) => (p.client as JsonObject).id === clientId).length,
    );
  });
});

describe('routes and headers', () => {
  it('answers under /api/v2 as well as /v2', async () => {
    const a = await get(sim, '/v2/roles');
    const b = await get(sim, '/api/v2/roles');
    expect(b.status).toBe(200);
    expect(b.json.roles).toEqual(a.json.roles);
    expect(links(b.json).first).toContain('/api/v2/roles?');
  });

  it("sends a Date header from the simulator's clock", async () => {
    const res = await get(sim, '/v2/company');
    expect(res.headers.get('date')).toBe(new Date(clock.now()).toUTCString());
  });

  it('serves one record by id, a JSON 404 for an unknown id and an HTML 404 for an unknown route', async () => {
    const first = [...sim.records('invoices')][0];
    expect((await get(sim, `/v2/invoices/${first.id as number}`)).json).toEqual(first);
    const missing = await get(sim, '/v2/invoices/1');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ status: 404, error: 'Not Found' });
    const route = await get(sim, '/v2/not_a_thing');
    expect(route.status).toBe(404);
    expect(route.headers.get('content-type')).toContain('text/html');
  });

  it('serves every catalog object with at least two pages at per_page 2', async () => {
    for (const spec of DEFAULT_OBJECTS.filter((o) => !o.singleton)) {
      // a parent has a few records of an object listed under it: one a page
      const res = await get(sim, `${listPath(sim, spec)}?per_page=${spec.parent ? 1 : 2}`);
      expect(res.status, spec.name).toBe(200);
      if (spec.parent) {
        // one page per record of the parent with the most (a payment or two per invoice)
        expect(res.json.total_pages, spec.name).toBe(res.json.total_entries);
        expect(res.json.total_entries as number, spec.name).toBeGreaterThanOrEqual(1);
      } else expect(res.json.total_pages as number, spec.name).toBeGreaterThanOrEqual(2);
    }
  });
});
