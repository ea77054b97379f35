import { DEFAULT_OBJECTS } from '../../../src/catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../../../src/catalog/types.js';
import { HarvestClient } from '../../../src/harvest/client.js';
import type { HarvestClientOptions } from '../../../src/harvest/client.js';
import type { Simulator } from '../../../src/simulator/index.js';
import { seeded } from '../../harvest/helpers.js';

/** A client of a local simulator; options (timeouts, retries, clock) override the test defaults. */
export function clientFor(sim: Simulator, options: Partial<HarvestClientOptions> = {}): HarvestClient {
  return new HarvestClient({
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    userAgent: 'harvest-sync reliability tests (dev@example.com)',
    rateLimit: { requests: 100_000, windowMs: 1_000 },
    ...options,
  });
}

/** A top-level text field of the object that an edit can change (the catalog decides, not a list here). */
function editableField(spec: ObjectSpec): string | undefined {
  const skip = new Set(['created_at', 'updated_at']);
  return Object.entries(spec.fields).find(([name, type]) => type === 'text' && !skip.has(name))?.[0];
}

export interface ChangeCounts {
  edited: number;
  created: number;
  deleted: number;
  lineItems: number;
}

/**
 * What happens in Harvest between two runs: some records of every object edited, some created, some
 * deleted (hard, as Harvest does), some invoices' line items replaced. Deterministic for a seed and
 * round, so two simulators made from one seed and changed alike hold the same records.
 */
export function changeAccount(sim: Simulator, seed: number, round: number, intensity = 1): ChangeCounts {
  const random = seeded(seed * 7919 + round);
  const counts: ChangeCounts = { edited: 0, created: 0, deleted: 0, lineItems: 0 };
  const pick = <T>(items: readonly T[]): T | undefined =>
    items.length === 0 ? undefined : items[Math.floor(random() * items.length)];
  for (const spec of DEFAULT_OBJECTS) {
    // the company is the account itself: one record, changed by nobody's test
    if (spec.singleton) continue;
    // users hold the token's own user: deleting it would turn the run into a 401, not a deletion.
    const ids = [...sim.records(spec.name)].map((r) => r.id as number);
    const field = editableField(spec);
    const edits = Math.round(intensity * (1 + random() * 2));
    for (let i = 0; i < edits; i++) {
      const id = pick(ids);
      if (id === undefined) break;
      const patch: JsonObject = field
        ? { [field]: `edited r${round} #${i} ${random().toString(36).slice(2, 8)}` }
        : {};
      sim.update(spec.name, id, patch);
      counts.edited++;
    }
    if (random() < 0.6 * intensity && ids.length > 2) {
      const fields: JsonObject = field ? { [field]: `created r${round}` } : {};
      // a payment, a message or a rate is created under a parent record (an invoice, a user)
      const parent = spec.parent ? pick([...sim.records(spec.parent.object)]) : undefined;
      if (spec.parent && parent) fields[spec.parent.key] = parent.id as number;
      if (!spec.parent || parent) {
        sim.create(spec.name, fields);
        counts.created++;
      }
    }
    if (spec.name !== 'users' && random() < 0.5 * intensity && ids.length > 3) {
      const id = pick(ids);
      if (id !== undefined && sim.remove(spec.name, id)) counts.deleted++;
    }
    if (spec.children.length > 0 && random() < 0.7 * intensity) {
      const parent = pick([...sim.records(spec.name)]);
      const items = parent?.[spec.children[0].field];
      if (parent && Array.isArray(items) && items.length > 0) {
        // keep all but the first item, and add one: a child row deleted and one created
        const kept = (items.slice(1) as JsonObject[]).map((item) => ({ ...item }));
        const fresh = { ...(items[0] as JsonObject) };
        delete fresh.id;
        sim.updateLineItems(spec.name, parent.id as number, [...kept, fresh]);
        counts.lineItems++;
      }
    }
  }
  return counts;
}

/** Seeded choices in tests and the soak: the same generator the client tests use. */
export { seeded };
