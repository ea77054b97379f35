import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { DEFAULT_OBJECTS, findObject } from '../../src/catalog/objects.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { simulatorClient } from '../sync/support/simulator-helpers.js';
import { expectTablesMatch, syncSqlite, tempDir } from '../sync/support/sqlite-helpers.js';
import { get, listPath, walk } from './helpers.js';

/*
 * A manager's token (harvest-api-v2.md §8): it sees the projects its user manages, and on time
 * entries, expenses and assignments its own records, its teammates' and those of its managed
 * projects; endpoints that need a manager sub-permission or an administrator answer 403 with
 * Harvest's recorded body.
 */

let sim: Simulator;
beforeAll(async () => {
  // timers held still: the replica below is compared with what the token reads afterwards
  sim = await startSimulator({
    scale: 0.1,
    seed: 8,
    rateLimit: null,
    managerToken: 'mgr',
    timersGrow: false,
  });
});
afterAll(() => sim.stop());

const idOf = (v: unknown) => (v as JsonObject | null | undefined)?.id as number;

/** What the manager's user manages and who it sees, worked out from the admin's view of the data. */
function managerWorld(meId: number, memberId: number) {
  const managed = new Set(
    [...sim.records('user_assignments')]
      .filter((ua) => idOf(ua.user) === meId && ua.is_project_manager === true)
      .map((ua) => idOf(ua.project)),
  );
  const people = new Set([meId, memberId]);
  const visible = (r: JsonObject) => people.has(idOf(r.user)) || managed.has(idOf(r.project));
  return { managed, people, visible };
}

/** An object's list as the manager asks for it: objects listed per user under their own user. */
function pathFor(spec: ObjectSpec, me: number): string {
  return spec.parent?.object === 'users' ? spec.endpoint.replace('{id}', String(me)) : listPath(sim, spec);
}

describe('the manager token', () => {
  it('belongs to a manager with no sub-permission by default', async () => {
    const me = await get(sim, '/v2/users/me', { token: 'mgr' });
    expect(me.status).toBe(200);
    expect(me.json.access_roles).toEqual(['manager']);
    expect('cost_rate' in me.json).toBe(false);
  });

  it('gets 403 Not authorized! where a plain manager may not read, and data elsewhere', async () => {
    const forbidden = [
      'clients',
      'contacts',
      'invoices',
      'estimates',
      'estimate_item_categories',
      'expense_categories',
      'roles',
      'tasks',
      // under invoices and estimates they may not read; rates need billable_rates_manager, or an admin
      'invoice_payments',
      'invoice_messages',
      'estimate_messages',
      'billable_rates',
      'cost_rates',
    ];
    const me = (await get(sim, '/v2/users/me', { token: 'mgr' })).json.id as number;
    for (const spec of DEFAULT_OBJECTS.filter((o) => !o.singleton)) {
      const res = await get(sim, `${pathFor(spec, me)}?per_page=1`, { token: 'mgr' });
      if (forbidden.includes(spec.name)) {
        expect(res.status, spec.name).toBe(403);
        expect(res.text, spec.name).toBe('{"message":"Not authorized!"}');
        expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(res.headers.get('hint')).toBe('Not authorized!');
      } else {
        expect(res.status, spec.name).toBe(200);
      }
    }
  });

  it('sees exactly the records of its managed projects, its own and its teammates’', async () => {
    const me = (await get(sim, '/v2/users/me', { token: 'mgr' })).json.id as number;
    const member = (await get(sim, '/v2/users/me', { token: sim.memberToken })).json.id as number;
    const { managed, people, visible } = managerWorld(me, member);
    expect(managed.size).toBeGreaterThan(0);

    const cases: [string, (r: JsonObject) => boolean][] = [
      ['projects', (r) => managed.has(r.id as number)],
      ['users', (r) => people.has(r.id as number)],
      ['time_entries', visible],
      ['expenses', visible],
      ['user_assignments', visible],
      ['task_assignments', visible],
    ];
    for (const [object, expected] of cases) {
      const seen = await walk(sim, `/v2/${object}?per_page=50`, object, 'mgr');
      const all = [...sim.records(object)];
      const want = all.filter(expected).map((r) => r.id);
      expect(
        seen.records.map((r) => r.id),
        object,
      ).toEqual(want);
      expect(want.length, object).toBeGreaterThan(0);
      expect(want.length, object).toBeLessThan(all.length);
      expect(seen.pages[0].total_entries, object).toBe(want.length);
    }
    // others' time on a managed project is in; others' time elsewhere is out
    const entries = [...sim.records('time_entries')];
    expect(entries.some((e) => managed.has(idOf(e.project)) && !people.has(idOf(e.user)))).toBe(true);
    const hidden = entries.find((e) => !visible(e)) as JsonObject;
    expect((await get(sim, `/v2/time_entries/${hidden.id as number}`, { token: 'mgr' })).status).toBe(404);
  });

  it('reads clients, contacts and tasks when allowed to manage them', async () => {
    const allowed = await startSimulator({
      scale: 0.02,
      rateLimit: null,
      managerPermissions: ['client_and_task_manager'],
    });
    try {
      const me = await get(allowed, '/v2/users/me', { token: allowed.managerToken });
      expect(me.json.access_roles).toEqual(['manager', 'client_and_task_manager']);
      for (const object of ['clients', 'contacts', 'tasks']) {
        const res = await get(allowed, `/v2/${object}`, { token: allowed.managerToken });
        expect(res.status, object).toBe(200);
        expect(res.json.total_entries).toBe([...allowed.records(object)].length);
      }
      expect((await get(allowed, '/v2/invoices', { token: allowed.managerToken })).status).toBe(403);
      expect((await get(allowed, '/v2/roles', { token: allowed.managerToken })).status).toBe(403);
    } finally {
      await allowed.stop();
    }
  });

  it('refuses three tokens that are not distinct', async () => {
    await expect(startSimulator({ adminToken: 'same', managerToken: 'same' })).rejects.toThrow(/differ/);
  });

  it('replicates what it may read with the real engine, and skips the rest with the reason', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = join(dir, 'manager.db');
      const { result } = await syncSqlite(db, simulatorClient(sim, 'mgr'), {
        objects: DEFAULT_OBJECTS,
        perPage: 40,
      });
      expect(result.status).toBe('succeeded');
      const me = (await get(sim, '/v2/users/me', { token: 'mgr' })).json.id as number;
      const member = (await get(sim, '/v2/users/me', { token: sim.memberToken })).json.id as number;
      const readable = new Set<string>();
      for (const r of result.objects) {
        const path = pathFor(findObject(r.object) as ObjectSpec, me);
        const open = (await get(sim, `${path}?per_page=1`, { token: 'mgr' })).status === 200;
        expect(r.status, r.object).toBe(open ? 'succeeded' : 'skipped');
        if (open) readable.add(r.object);
        else expect(r.reason, r.object).toMatch(/may not read/);
      }
      const seen = new Map<string, JsonObject[]>();
      for (const object of readable) {
        const spec = findObject(object) as ObjectSpec;
        if (spec.singleton) seen.set(object, [...sim.records(object)]);
        else if (spec.parent) {
          // listed under the users the manager sees: their own and their teammate's
          const people = new Set([me, member]);
          seen.set(
            object,
            [...sim.records(object)].filter((r) => people.has(r.user_id as number)),
          );
        } else seen.set(object, (await walk(sim, `/v2/${object}`, object, 'mgr')).records);
      }
      expect(readable.has('project_assignments')).toBe(true);
      expectTablesMatch(
        db,
        (object) => seen.get(object) ?? [],
        DEFAULT_OBJECTS.filter((o) => readable.has(o.name)),
      );
    } finally {
      cleanup();
    }
  });
});
