import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/index.js';
import { get, walk } from './helpers.js';
import { TestClock } from '../support/clock.js';

/*
 * Renaming a client, project, task or user changes the copies other records embed of it (a time
 * entry's client.name, project.name, task.name, user.name…), as Harvest renders them from the
 * current record. Whether those records' updated_at moves is an option (Harvest does not say).
 */

const sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});

const clock = new TestClock({ start: '2026-04-01T10:00:00Z', sleeps: 'ignore' });
async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ scale: 0.1, seed: 4, rateLimit: null, clock, ...options });
  sims.push(sim);
  return sim;
}

const idOf = (v: unknown) => (v as JsonObject | null | undefined)?.id;
type Holder = { object: string; copies: (r: JsonObject) => JsonObject[] };
const at =
  (field: string) =>
  (r: JsonObject): JsonObject[] =>
    r[field] ? [r[field] as JsonObject] : [];
const inLineItems = (r: JsonObject): JsonObject[] =>
  (r.line_items as JsonObject[]).flatMap((li) => (li.project ? [li.project as JsonObject] : []));

/** Where each renamed object is embedded, across the account. */
const HOLDERS: Record<string, Holder[]> = {
  clients: ['time_entries', 'expenses', 'projects', 'contacts', 'invoices', 'estimates'].map((object) => ({
    object,
    copies: at('client'),
  })),
  projects: [
    ...['time_entries', 'expenses', 'user_assignments', 'task_assignments'].map((object) => ({
      object,
      copies: at('project'),
    })),
    { object: 'invoices', copies: inLineItems },
  ],
  tasks: ['time_entries', 'task_assignments'].map((object) => ({ object, copies: at('task') })),
  users: [
    ...['time_entries', 'expenses', 'user_assignments'].map((object) => ({ object, copies: at('user') })),
    ...['invoices', 'estimates'].map((object) => ({ object, copies: at('creator') })),
  ],
};

/** A record of `object` embedded in at least one record of every holder. */
function widelyEmbedded(sim: Simulator, object: string): JsonObject {
  const candidates = [...sim.records(object)];
  const found = candidates.find((c) =>
    HOLDERS[object].every((h) =>
      [...sim.records(h.object)].some((r) => h.copies(r).some((x) => idOf(x) === c.id)),
    ),
  );
  if (!found) throw new Error(`no ${object} embedded everywhere`);
  return found;
}

function copiesOf(sim: Simulator, object: string, id: unknown) {
  return HOLDERS[object].flatMap((h) =>
    [...sim.records(h.object)].flatMap((r) =>
      h
        .copies(r)
        .filter((x) => idOf(x) === id)
        .map((copy) => ({ object: h.object, record: r, copy })),
    ),
  );
}

const RENAMES: [string, JsonObject, string][] = [
  ['clients', { name: 'Renamed Client Ltd' }, 'Renamed Client Ltd'],
  ['projects', { name: 'Renamed Project', code: 'RP-1' }, 'Renamed Project'],
  ['tasks', { name: 'Renamed Task' }, 'Renamed Task'],
  ['users', { first_name: 'Renée', last_name: "O'Rename" }, "Renée O'Rename"],
];

describe('renames reach every embedded copy', () => {
  for (const [object, patch, name] of RENAMES) {
    it(`${object}: the copies show the new name at once, their records' updated_at stays`, async () => {
      const sim = await simulator();
      const target = widelyEmbedded(sim, object);
      const copies = copiesOf(sim, object, target.id);
      const before = new Map(copies.map((c) => [`${c.object}:${c.record.id as number}`, c]));
      clock.set('2026-04-02T09:00:00Z');
      sim.update(object, target.id as number, patch);
      const after = copiesOf(sim, object, target.id);
      expect(after.length).toBe(copies.length);
      expect(copies.every((c) => c.copy.name !== name)).toBe(true);
      expect(new Set(after.map((c) => c.object)).size).toBe(HOLDERS[object].length);
      for (const c of after) {
        expect(c.copy.name, c.object).toBe(name);
        if ('code' in c.copy && 'code' in patch) expect(c.copy.code).toBe(patch.code);
        const was = before.get(`${c.object}:${c.record.id as number}`);
        expect(c.record.updated_at, c.object).toBe(was?.record.updated_at);
      }
      // an incremental read after the rename sees the renamed record only
      for (const h of HOLDERS[object]) {
        const since = await get(sim, `/v2/${h.object}?updated_since=2026-04-02T00:00:00Z`);
        expect(since.json.total_entries, h.object).toBe(0);
      }
    });
  }

  it('with renameTouchesEmbedding, every record holding a copy moves its updated_at, once', async () => {
    const sim = await simulator({ renameTouchesEmbedding: true });
    const project = widelyEmbedded(sim, 'projects');
    const holders = copiesOf(sim, 'projects', project.id);
    clock.set('2026-04-03T09:00:00Z');
    sim.update('projects', project.id as number, { name: 'Touched' });
    for (const h of HOLDERS.projects) {
      const expected = holders.filter((c) => c.object === h.object).map((c) => c.record.id);
      const since = await walk(sim, `/v2/${h.object}?updated_since=2026-04-03T09:00:00Z`, h.object);
      // time entries and expenses also embed the user assignments, touched in the same change
      expect(since.records.map((r) => r.id).sort(), h.object).toEqual([...new Set(expected)].sort());
      for (const r of since.records) expect(r.updated_at, h.object).toBe('2026-04-03T09:00:00Z');
    }
    expect(copiesOf(sim, 'projects', project.id).every((c) => c.copy.name === 'Touched')).toBe(true);
  });

  it('through the /_simulator change route as well', async () => {
    const sim = await simulator();
    const task = widelyEmbedded(sim, 'tasks');
    const res = await fetch(`${sim.url}/_simulator/records/tasks/${task.id as number}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${sim.adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Patched over HTTP' }),
    });
    expect(res.status).toBe(200);
    const entry = copiesOf(sim, 'tasks', task.id).find((c) => c.object === 'time_entries') as {
      record: JsonObject;
    };
    const served = (await get(sim, `/v2/time_entries/${entry.record.id as number}`)).json;
    expect((served.task as JsonObject).name).toBe('Patched over HTTP');
  });
});
