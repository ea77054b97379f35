import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get, walk } from './helpers.js';
import { TestClock } from '../support/clock.js';

let sim: Simulator;
const clock = new TestClock({ start: '2026-06-01T10:00:00Z', sleeps: 'ignore' });

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.05, seed: 11, rateLimit: null, clock });
});
afterAll(() => sim.stop());

const ids = (records: Iterable<JsonObject>) => [...records].map((r) => r.id as number);

describe('changes between runs', () => {
  it('update bumps updated_at to now and the record shows up with updated_since', async () => {
    const target = [...sim.records('time_entries')][37];
    clock.set('2026-06-02T08:00:00Z');
    const updated = sim.update('time_entries', target.id as number, {
      notes: 'edited ✏️',
      client: { name: 'Renamed' },
    });
    expect(updated.updated_at).toBe('2026-06-02T08:00:00Z');
    expect((updated.client as JsonObject).id).toBe((target.client as JsonObject).id);
    const since = await get(sim, '/v2/time_entries?updated_since=2026-06-02T00:00:00Z');
    expect(ids(since.json.time_entries as JsonObject[])).toEqual([target.id]);
    expect((since.json.time_entries as JsonObject[])[0].notes).toBe('edited ✏️');
  });

  it('create gives a fresh id, stamps now and lists the record first', async () => {
    clock.set('2026-06-03T09:30:00Z');
    const before = (await get(sim, '/v2/time_entries?per_page=1')).json.total_entries as number;
    const created = sim.create('time_entries', { hours: 1.5 });
    expect(created).toMatchObject({
      created_at: '2026-06-03T09:30:00Z',
      updated_at: '2026-06-03T09:30:00Z',
      spent_date: '2026-06-03',
      hours: 1.5,
    });
    const first = await get(sim, '/v2/time_entries?per_page=1');
    expect(first.json.total_entries).toBe(before + 1);
    expect((first.json.time_entries as JsonObject[])[0]).toEqual(created);
    const clients = sim.create('clients', { name: 'New client' });
    expect(ids(sim.records('clients'))[0]).toBe(clients.id);
  });

  it('remove makes a record vanish without trace, line items included', async () => {
    const invoice = [...sim.records('invoices')][3];
    const total = (await get(sim, '/v2/invoices?per_page=1')).json.total_entries as number;
    expect(sim.remove('invoices', invoice.id as number)).toBe(true);
    expect(sim.remove('invoices', invoice.id as number)).toBe(false);
    expect((await get(sim, '/v2/invoices?per_page=1')).json.total_entries).toBe(total - 1);
    expect((await get(sim, `/v2/invoices/${invoice.id as number}`)).status).toBe(404);
    const lineIds = new Set((invoice.line_items as JsonObject[]).map((li) => li.id));
    const remaining = [...sim.records('invoices')].flatMap((i) =>
      (i.line_items as JsonObject[]).map((li) => li.id),
    );
    expect(remaining.some((id) => lineIds.has(id))).toBe(false);
  });

  it('replaces line items and bumps the parent', async () => {
    clock.set('2026-06-04T12:00:00Z');
    const estimate = [...sim.records('estimates')].find(
      (e) => (e.line_items as JsonObject[]).length >= 2,
    ) as JsonObject;
    const items = estimate.line_items as JsonObject[];
    const kept = items.slice(1);
    const added = {
      kind: 'Service',
      description: 'Added later',
      quantity: 2,
      unit_price: 50,
      amount: 100,
      taxed: false,
      taxed2: false,
    };
    const updated = sim.updateLineItems('estimates', estimate.id as number, [...kept, added]);
    const newItems = updated.line_items as JsonObject[];
    expect(newItems.map((li) => li.id).slice(0, kept.length)).toEqual(kept.map((li) => li.id));
    expect(typeof newItems.at(-1)?.id).toBe('number');
    expect(items.map((li) => li.id)).not.toContain(newItems.at(-1)?.id);
    expect(updated.updated_at).toBe('2026-06-04T12:00:00Z');
  });

  it('starts sending a new field, nested or not, without touching updated_at', async () => {
    const other = await startSimulator({ scale: 0.02, rateLimit: null });
    try {
      other.addField('projects', 'color', (r) => ((r.id as number) % 2 === 0 ? 'red' : null));
      other.addField('time_entries', 'project.is_billable', () => true);
      const project = ((await get(other, '/v2/projects?per_page=1')).json.projects as JsonObject[])[0];
      expect('color' in project).toBe(true);
      const entry = ((await get(other, '/v2/time_entries?per_page=1')).json.time_entries as JsonObject[])[0];
      expect((entry.project as JsonObject).is_billable).toBe(true);
      const again = ((await get(other, '/v2/time_entries?per_page=1')).json.time_entries as JsonObject[])[0];
      expect(again.updated_at).toBe(entry.updated_at);
    } finally {
      await other.stop();
    }
  });

  it('keeps a deep walk exact through many changes to a generated object', async () => {
    const all = [...sim.records('expenses')];
    clock.set('2026-06-05T00:00:00Z');
    const removed = [all[0], all[5], all[6], all[12], all.at(-1) as JsonObject].map((r) => r.id as number);
    for (const id of removed) sim.remove('expenses', id);
    sim.update('expenses', all[10].id as number, { spent_date: '2020-01-01' });
    sim.update('expenses', all[11].id as number, { notes: 'same date, edited' });
    const created = [
      sim.create('expenses', { spent_date: '2024-07-15' }),
      sim.create('expenses', { spent_date: '2023-01-01' }),
      sim.create('expenses', {}),
    ];
    const direct = await walk(sim, '/v2/expenses?per_page=13', 'expenses');
    // an updated_since before the data was made forces the scanning path: both must agree
    const scanned = await walk(
      sim,
      '/v2/expenses?per_page=17&updated_since=2000-01-01T00:00:00Z',
      'expenses',
    );
    expect(ids(direct.records)).toEqual(ids(scanned.records));
    expect(ids(direct.records)).toEqual(ids(sim.records('expenses')));
    expect(direct.records).toHaveLength(all.length - removed.length + created.length);
    for (const id of removed) expect(ids(direct.records)).not.toContain(id);
    for (const c of created) expect(ids(direct.records)).toContain(c.id);
    const key = (r: JsonObject) => `${r.spent_date as string}:${String(r.id).padStart(12, '0')}`;
    const keys = direct.records.map(key);
    expect(keys).toEqual([...keys].sort().reverse());
    const ranged = await walk(sim, '/v2/expenses?per_page=4&from=2022-12-01&to=2024-07-31', 'expenses');
    expect(ids(ranged.records)).toEqual(
      ids(
        direct.records.filter(
          (r) => (r.spent_date as string) >= '2022-12-01' && (r.spent_date as string) <= '2024-07-31',
        ),
      ),
    );
  });

  it('counts requests by path and status, and resets the counts', async () => {
    sim.resetCounters();
    await get(sim, '/v2/users?per_page=1');
    await get(sim, '/v2/users?per_page=1');
    await get(sim, '/v2/nope');
    const c = sim.counters;
    expect(c.total).toBe(3);
    expect(c.byPath['/v2/users']).toBe(2);
    expect(c.byStatus['200']).toBe(2);
    expect(c.byStatus['404']).toBe(1);
    expect(c.listPages).toBe(2);
    sim.resetCounters();
    expect(sim.counters.total).toBe(0);
  });
});

describe('/_simulator routes', () => {
  const call = async (method: string, path: string, body?: unknown, token = sim.adminToken) => {
    const res = await fetch(`${sim.url}/_simulator${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as JsonObject };
  };

  it('refuses a caller without the admin token', async () => {
    expect((await call('GET', '/counters', undefined, sim.memberToken)).status).toBe(401);
  });

  it('creates, reads, updates and deletes records', async () => {
    clock.set('2026-07-01T00:00:00Z');
    const created = await call('POST', '/records/contacts', { first_name: 'Über', last_name: "O'Neil" });
    expect(created.status).toBe(201);
    const id = created.json.id as number;
    expect((await call('GET', `/records/contacts/${id}`)).json.first_name).toBe('Über');
    clock.set('2026-07-02T00:00:00Z');
    const patched = await call('PATCH', `/records/contacts/${id}`, { title: null });
    expect(patched.json).toMatchObject({ title: null, updated_at: '2026-07-02T00:00:00Z' });
    expect((await call('DELETE', `/records/contacts/${id}`)).json).toEqual({ deleted: true });
    expect((await call('DELETE', `/records/contacts/${id}`)).status).toBe(404);
    expect((await call('GET', '/records/nothing')).status).toBe(400);
  });

  it('lists records, replaces line items, adds fields, revokes tokens, sets faults and rate limits', async () => {
    const invoices = (await call('GET', '/records/invoices')).json as unknown as JsonObject[];
    expect(ids(invoices)).toEqual(ids(sim.records('invoices')));
    const inv = invoices[0];
    const li = await call('PUT', `/records/invoices/${inv.id as number}/line_items`, { line_items: [] });
    expect(li.json.line_items).toEqual([]);
    await call('POST', '/fields', { object: 'roles', field: 'archived', value: false });
    expect(((await get(sim, '/v2/roles')).json.roles as JsonObject[])[0].archived).toBe(false);
    await call('PUT', '/faults', { burst429: { count: 1, variant: 'empty' } });
    expect((await get(sim, '/v2/company')).status).toBe(429);
    await call('PUT', '/faults', null);
    await call('PUT', '/rate-limit', { requests: 1, windowMs: 60_000 });
    expect((await get(sim, '/v2/company')).status).toBe(200);
    expect((await get(sim, '/v2/company')).status).toBe(429);
    await call('PUT', '/rate-limit', null);
    // the reports' budget is apart: a spent one refuses reports only
    await call('PUT', '/reports-rate-limit', { requests: 1, windowMs: 60_000 });
    const report = '/v2/reports/project_budget';
    expect((await get(sim, report)).status).toBe(200);
    expect((await get(sim, report)).status).toBe(429);
    expect((await get(sim, '/v2/company')).status).toBe(200);
    await call('PUT', '/reports-rate-limit', null);
    expect((await get(sim, report)).status).toBe(200);
    await call('POST', '/revoke', { token: sim.memberToken });
    expect((await get(sim, '/v2/company', { token: sim.memberToken })).status).toBe(401);
    await call('POST', '/counters/reset');
    expect((await call('GET', '/counters')).json.total).toBe(0);
  });
});

describe('determinism', () => {
  it('gives the same bytes for the same seed and different ones for another seed', async () => {
    const body = async (seed: number) => {
      // same seed, same clock: running timers' hours depend on the clock
      const s = await startSimulator({
        scale: 0.03,
        seed,
        rateLimit: null,
        clock: new TestClock({ start: '2026-03-01T00:00:00Z', sleeps: 'ignore' }),
      });
      try {
        const parts = [];
        for (const path of ['/v2/time_entries', '/v2/invoices', '/v2/users', '/v2/projects', '/v2/company']) {
          parts.push((await get(s, path)).text.replaceAll(s.url, ''));
        }
        return parts.join('\n');
      } finally {
        await s.stop();
      }
    };
    const a = await body(21);
    expect(await body(21)).toBe(a);
    expect(await body(22)).not.toBe(a);
  });
});
