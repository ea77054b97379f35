import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OBJECTS, findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { openDestination } from '../../src/destinations/index.js';
import { runSync } from '../../src/sync/engine.js';
import type { SyncOptions, SyncResult } from '../../src/sync/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { adminClient, dropSchema, schemaUrl, uniqueSchema } from '../destinations/postgres-support.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';

/* The engine into the real PostgreSQL destination (one schema per test), fed by the HTTP simulator. */

let sim: Simulator;
let schema: string;

beforeEach(async () => {
  sim = await startSimulator({ scale: 0.01, rateLimit: null });
  schema = uniqueSchema('hs_sync');
});
afterEach(async () => {
  await sim.stop();
  await dropSchema(schema);
});

function spec(name: string): ObjectSpec {
  const found = findObject(name);
  if (!found) throw new Error(name);
  return found;
}

async function sync(options: Omit<SyncOptions, 'source' | 'destination'>): Promise<SyncResult> {
  const destination = openDestination(schemaUrl(schema));
  await destination.open();
  try {
    return await runSync({ ...options, source: simulatorClient(sim), destination });
  } finally {
    await destination.close();
  }
}

async function rows(table: string, columns: string): Promise<Array<Record<string, unknown>>> {
  const client = await adminClient(schema);
  try {
    const result = await client.query(`SELECT ${columns} FROM "${table}" ORDER BY id`);
    return result.rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

async function ids(table: string, deleted: boolean): Promise<number[]> {
  const found = await rows(table, `id::text AS id, _deleted_at IS NOT NULL AS deleted`);
  return found.filter((r) => r.deleted === deleted).map((r) => Number(r.id));
}

function simIds(object: string): number[] {
  return simRecords(sim, object)
    .map((r) => r.id as number)
    .sort((a, b) => a - b);
}

describe('into PostgreSQL', () => {
  it('loads every object, then applies edits incrementally and deletions on a full refresh', async () => {
    const first = await sync({ objects: OBJECTS, perPage: 25 });
    expect(first.status).toBe('succeeded');
    for (const object of OBJECTS)
      expect(await ids(object.name, false), object.name).toEqual(simIds(object.name));
    const lineItems = simRecords(sim, 'invoices').flatMap((r) =>
      (r.line_items as Array<{ id: number }>).map((i) => i.id),
    );
    expect(await ids('invoice_line_items', false)).toEqual(lineItems.sort((a, b) => a - b));

    const entry = simRecords(sim, 'time_entries')[40].id as number;
    sim.update('time_entries', entry, { notes: 'edited: tab\tand "quotes"', hours: 7.25 });
    sim.resetCounters();
    const second = await sync({ objects: OBJECTS, perPage: 25 });
    expect(second.status).toBe('succeeded');
    expect(sim.counters.total).toBe(OBJECTS.length);
    expect(second.objects.find((o) => o.object === 'time_entries')).toMatchObject({ read: 1, updated: 1 });
    const stored = (await rows('time_entries', 'id::text AS id, notes, hours::text AS hours')).find(
      (r) => Number(r.id) === entry,
    );
    expect(stored).toMatchObject({ notes: 'edited: tab\tand "quotes"', hours: '7.25' });

    const gone = simRecords(sim, 'clients')[1].id as number;
    const contacts = simRecords(sim, 'contacts').filter((c) => (c.client as { id: number }).id === gone);
    for (const c of contacts) sim.remove('contacts', c.id as number);
    sim.remove('clients', gone);
    const third = await sync({
      objects: [spec('clients'), spec('contacts')],
      perPage: 25,
      fullRefresh: true,
    });
    expect(third.status).toBe('succeeded');
    expect(await ids('clients', true)).toEqual([gone]);
    expect(await ids('contacts', true)).toEqual(contacts.map((c) => c.id as number).sort((a, b) => a - b));
    expect(await ids('clients', false)).toEqual(simIds('clients'));
  });

  it('resumes an aborted run where it stopped and ends with every record', async () => {
    const controller = new AbortController();
    const objects = [spec('time_entries'), spec('invoices'), spec('users')];
    // one request at a time, so the pages left are known exactly (windows: test/sync/windows.test.ts)
    const first = await sync({
      objects,
      perPage: 10,
      concurrency: 1,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'object:page' && e.object === 'time_entries' && e.pages === 2) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    const read = first.objects.find((o) => o.object === 'time_entries')?.read;
    expect(await ids('time_entries', false)).toHaveLength(read ?? -1);
    sim.resetCounters();
    const second = await sync({ objects, perPage: 10, concurrency: 1 });
    expect(second.status).toBe('succeeded');
    // The resumed pass reads only the pages it had not written.
    expect(second.objects[0].calls).toBe(10 - first.objects[0].pages);
    for (const object of objects)
      expect(await ids(object.name, false), object.name).toEqual(simIds(object.name));
  });
});
