import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator, Vintage } from '../../src/simulator/index.js';
import { simulatorClient } from '../sync/support/simulator-helpers.js';
import { expectTablesMatch, readTable, syncSqlite, tempDir } from '../sync/support/sqlite-helpers.js';
import { get } from './helpers.js';

/*
 * Field presence is a property of the account: every record of one account has the same keys. The
 * key sets below are those of the responses recorded from the real Harvest API (harvest-recorded/,
 * from fastruby/harvesting's cassettes): time_entries.json (May 2024), time_entries_2019_page1_of_2.json,
 * users.json, clients.json, user_assignments.json (January 2019) and invoices.json (April 2020);
 * within each file every record has exactly these keys.
 */

const TIME_ENTRY_2019 = [
  'billable',
  'billable_rate',
  'budgeted',
  'client',
  'cost_rate',
  'created_at',
  'ended_time',
  'external_reference',
  'hours',
  'id',
  'invoice',
  'is_billed',
  'is_closed',
  'is_locked',
  'is_running',
  'locked_reason',
  'notes',
  'project',
  'spent_date',
  'started_time',
  'task',
  'task_assignment',
  'timer_started_at',
  'updated_at',
  'user',
  'user_assignment',
];
const TIME_ENTRY_2024 = [...TIME_ENTRY_2019, 'hours_without_timer', 'rounded_hours'].sort();
const UA_IN_ENTRY_2019 = [
  'budget',
  'created_at',
  'hourly_rate',
  'id',
  'is_active',
  'is_project_manager',
  'updated_at',
];
const UA_IN_ENTRY_2024 = [...UA_IN_ENTRY_2019, 'use_default_rates'].sort();

const RECORDED_2019: Record<string, string[]> = {
  users: [
    'avatar_url',
    'can_create_invoices',
    'can_create_projects',
    'can_see_rates',
    'cost_rate',
    'created_at',
    'default_hourly_rate',
    'email',
    'first_name',
    'has_access_to_all_future_projects',
    'id',
    'is_active',
    'is_admin',
    'is_contractor',
    'is_project_manager',
    'last_name',
    'roles',
    'telephone',
    'timezone',
    'updated_at',
    'weekly_capacity',
  ],
  clients: ['address', 'created_at', 'currency', 'id', 'is_active', 'name', 'updated_at'],
  // the assignment embedded in a 2019 time entry, plus its project and user
  user_assignments: [...UA_IN_ENTRY_2019, 'project', 'user'].sort(),
};

const sims: Simulator[] = [];
afterAll(() => Promise.all(sims.map((s) => s.stop())));
async function account(vintage?: Vintage): Promise<Simulator> {
  // timers held still: a replica below is compared with the simulator after the run
  const sim = await startSimulator({ scale: 0.1, seed: 12, rateLimit: null, vintage, timersGrow: false });
  sims.push(sim);
  return sim;
}

const keySets = (records: Iterable<JsonObject>, pick: (r: JsonObject) => JsonObject = (r) => r) =>
  new Set([...records].map((r) => Object.keys(pick(r)).sort().join(',')));
const ua = (r: JsonObject) => r.user_assignment as JsonObject;

describe('field presence is per account', () => {
  it('a current account sends approval_status on every time entry and expense, payment_options on every invoice', async () => {
    const sim = await account();
    for (const object of ['time_entries', 'expenses']) {
      const records = [...sim.records(object)];
      expect(
        records.every((r) => typeof r.approval_status === 'string'),
        object,
      ).toBe(true);
    }
    expect([...sim.records('invoices')].every((r) => Array.isArray(r.payment_options))).toBe(true);
    for (const object of ['time_entries', 'expenses', 'invoices', 'users', 'clients', 'projects']) {
      expect(keySets(sim.records(object)).size, object).toBe(1);
    }
    const me = (await get(sim, '/v2/users/me')).json;
    expect(me.access_roles).toEqual(['administrator']);
  });

  it('a 2024 account sends time entries with the keys recorded in May 2024, and never approval_status', async () => {
    const sim = await account('2024');
    expect([...keySets(sim.records('time_entries'))]).toEqual([TIME_ENTRY_2024.join(',')]);
    expect([...keySets(sim.records('time_entries'), ua)]).toEqual([UA_IN_ENTRY_2024.join(',')]);
    expect([...sim.records('expenses')].some((r) => 'approval_status' in r)).toBe(false);
    // and over HTTP, the same
    const page = (await get(sim, '/v2/time_entries?per_page=50')).json.time_entries as JsonObject[];
    expect([...keySets(page)]).toEqual([TIME_ENTRY_2024.join(',')]);
  });

  it('a 2019 account sends the keys recorded in 2019–2020, with the legacy permission flags on users', async () => {
    const sim = await account('2019');
    expect([...keySets(sim.records('time_entries'))]).toEqual([TIME_ENTRY_2019.join(',')]);
    expect([...keySets(sim.records('time_entries'), ua)]).toEqual([UA_IN_ENTRY_2019.join(',')]);
    for (const [object, keys] of Object.entries(RECORDED_2019)) {
      expect([...keySets(sim.records(object))], object).toEqual([keys.join(',')]);
    }
    expect([...sim.records('invoices')].some((r) => 'payment_options' in r)).toBe(false);
    const admin = (await get(sim, '/v2/users/me')).json;
    expect(admin).toMatchObject({ is_admin: true, can_see_rates: true, can_create_invoices: true });
    const member = (await get(sim, '/v2/users/me', { token: sim.memberToken })).json;
    expect(member).toMatchObject({ is_admin: false, is_project_manager: false, can_see_rates: false });
    expect('access_roles' in member).toBe(false);
  });

  it('a 2019 account replicates exactly, the fields it never sends left empty, and its token checks as admin', async () => {
    const sim = await account('2019');
    const { dir, cleanup } = tempDir();
    try {
      const db = join(dir, 'vintage.db');
      const { result } = await syncSqlite(db, simulatorClient(sim), { objects: DEFAULT_OBJECTS });
      expect(result.status).toBe('succeeded');
      expectTablesMatch(db, (object) => [...sim.records(object)], DEFAULT_OBJECTS);
      const entries = readTable(db, 'time_entries');
      expect(entries.every((r) => r.approval_status === null && r.rounded_hours === null)).toBe(true);
      expect(readTable(db, 'users').every((r) => r.access_roles === null)).toBe(true);
      const check = await simulatorClient(sim).checkConnection(DEFAULT_OBJECTS);
      expect(check.isAdmin).toBe(true);
      expect((await simulatorClient(sim, sim.memberToken).checkConnection(DEFAULT_OBJECTS)).isAdmin).toBe(
        false,
      );
    } finally {
      cleanup();
    }
  });

  it('refuses an unknown vintage', async () => {
    await expect(startSimulator({ vintage: '1999' as Vintage })).rejects.toThrow(/vintage/);
  });
});
