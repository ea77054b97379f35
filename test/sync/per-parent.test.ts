import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DEFAULT_OBJECTS, findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import {
  deletedIds,
  expectedTables,
  project,
  readTable,
  syncSqlite,
  tempDir,
} from './support/sqlite-helpers.js';

/*
 * Objects Harvest lists per parent record, through the real engine, client, simulator and SQLite:
 * one call per parent, and on an incremental run only under the parents that changed; a parent
 * read again has its removed records marked deleted; a member's token skips what it may not read.
 */

const spec = (name: string) => findObject(name) as ObjectSpec;
const PER_PARENT = DEFAULT_OBJECTS.filter((o) => o.parent !== undefined);

let sim: Simulator;
let dir: string;
let cleanup: () => void;
let db: string;

beforeEach(async () => {
  sim = await startSimulator({ scale: 0.05, rateLimit: null, timersGrow: false });
  ({ dir, cleanup } = tempDir());
  db = join(dir, 'per-parent.db');
});
afterEach(async () => {
  await sim.stop();
  cleanup();
});

/** The live rows of each table of `object` are exactly the simulator's records. */
function expectExact(object: ObjectSpec): void {
  const expected = expectedTables(object, simRecords(sim, object.name), sqliteEncoders);
  for (const [table, rows] of Object.entries(expected)) {
    const live = readTable(db, table).filter((r) => r._deleted_at === null);
    expect(project(live, rows), table).toEqual(rows);
  }
}

/** Paths of `/v2/invoices/{id}/payments` asked since the counters were reset, by invoice id. */
function paymentCalls(): number[] {
  return Object.entries(sim.counters.byPath).flatMap(([path, count]) => {
    const id = /^\/v2\/invoices\/(\d+)\/payments$/.exec(path)?.[1];
    return id === undefined ? [] : Array.from({ length: count }, () => Number(id));
  });
}

describe('objects listed per parent', () => {
  it('replicates every one exactly, one call per parent on the first run', async () => {
    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: PER_PARENT });
    expect(result.status).toBe('succeeded');
    for (const object of PER_PARENT) {
      expectExact(object);
      const parents = simRecords(sim, object.parent?.object ?? '').length;
      const r = result.objects.find((o) => o.object === object.name);
      // the parent's list (100 parents a page), then one call per parent
      expect(r?.calls, object.name).toBe(parents + Math.ceil(parents / 100));
      expect(r?.read, object.name).toBe(simRecords(sim, object.name).length);
    }
  });

  it('reads payments again for the 5 invoices that got one, and no other, on the next run', async () => {
    const payments = spec('invoice_payments');
    await syncSqlite(db, simulatorClient(sim), { objects: [payments] });
    const invoices = simRecords(sim, 'invoices').slice(3, 8);
    const added = invoices.map((invoice, i) =>
      sim.create('invoice_payments', {
        invoice_id: invoice.id as number,
        amount: 10 + i,
        paid_at: '2026-01-05T10:00:00Z',
        paid_date: '2026-01-05',
        recorded_by: 'Tess Ting',
        recorded_by_email: 'tess@example.com',
        notes: `part payment ${i}`,
        transaction_id: null,
        payment_gateway: { id: null, name: null },
      }),
    );
    sim.resetCounters();

    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: [payments] });
    expect(result.status).toBe('succeeded');
    expect(paymentCalls().sort()).toEqual(invoices.map((i) => i.id as number).sort());
    // the invoices' list once (changed ones only), then one call per changed invoice
    expect(sim.counters.byPath['/v2/invoices']).toBe(1);
    expect(sim.counters.total).toBe(1 + invoices.length);
    const underThem = simRecords(sim, 'invoice_payments').filter((p) =>
      invoices.some((i) => i.id === p.invoice_id),
    );
    expect(result.objects[0]).toMatchObject({
      mode: 'incremental',
      calls: 1 + invoices.length,
      read: underThem.length,
      inserted: added.length,
    });
    expectExact(payments);
  });

  it('marks a payment removed from Harvest deleted on a full refresh, and the rest of a deleted invoice’s', async () => {
    const payments = spec('invoice_payments');
    await syncSqlite(db, simulatorClient(sim), { objects: [payments] });
    const [gone, other] = simRecords(sim, 'invoice_payments');
    expect(sim.remove('invoice_payments', gone.id as number)).toBe(true);
    // an invoice deleted with its payments: its invoice is never listed again
    const deletedInvoice = other.invoice_id as number;
    const itsPayments = simRecords(sim, 'invoice_payments')
      .filter((p) => p.invoice_id === deletedInvoice)
      .map((p) => p.id as number);
    expect(sim.remove('invoices', deletedInvoice)).toBe(true);

    const { result } = await syncSqlite(db, simulatorClient(sim), { objects: [payments], fullRefresh: true });
    expect(result.status).toBe('succeeded');
    expect(result.objects[0].mode).toBe('full');
    expect(deletedIds(db, 'invoice_payments')).toEqual(
      [gone.id as number, ...itsPayments].sort((a, b) => a - b),
    );
    expectExact(payments);
  });

  it('skips what a member’s token may not read, with the reason, and reads the rest', async () => {
    const { result } = await syncSqlite(db, simulatorClient(sim, sim.memberToken), {
      objects: [...PER_PARENT, spec('company'), spec('time_entries')],
    });
    expect(result.status).toBe('succeeded');
    for (const r of result.objects) {
      if (r.object === 'company' || r.object === 'time_entries') {
        expect(r.status, r.object).toBe('succeeded');
        continue;
      }
      // every object listed per parent needs the parent's list (invoices, estimates, users)
      expect(r.status, r.object).toBe('skipped');
      expect(r.reason, r.object).toMatch(new RegExp(`^${r.object}: this token may not read`));
    }
    expect(readTable(db, 'company')).toHaveLength(1);
    expect(readTable(db, 'company')[0].id).toBe(Number(sim.accountId));
  });
});
