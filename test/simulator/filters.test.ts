import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { get, walk } from './helpers.js';

/*
 * List filters as Harvest documents them (harvest-api-v2.md §9): each endpoint's own, validated,
 * a malformed value answered 422 with Harvest's one-`message` body (and the message in a Hint
 * header, as recorded); a parameter the endpoint does not document is ignored, as Harvest does.
 */

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.1, seed: 14, rateLimit: null });
});
afterAll(() => sim.stop());

const total = async (path: string) => (await get(sim, path)).json.total_entries as number;
const idOf = (v: unknown) => (v as JsonObject | null)?.id;

describe('list filters', () => {
  it('answers a malformed value with 422 and a one-message body', async () => {
    const bad = [
      '/v2/time_entries?from=2024-13-01',
      '/v2/time_entries?to=yesterday',
      '/v2/expenses?from=2024-02-30',
      '/v2/invoices?to=2024/01/01',
      '/v2/projects?updated_since=last%20week',
      '/v2/time_entries?updated_since=2024-05-01T25:00:00Z',
      '/v2/time_entries?user_id=abc',
      '/v2/time_entries?is_billed=1',
      '/v2/time_entries?approval_status=done',
      '/v2/expenses?approval_status=Approved',
      '/v2/invoices?state=sent',
      '/v2/estimates?state=paid',
      '/v2/users?is_active=yes',
    ];
    for (const path of bad) {
      const res = await get(sim, path);
      expect(res.status, path).toBe(422);
      expect(Object.keys(res.json), path).toEqual(['message']);
      expect(res.headers.get('content-type'), path).toBe('application/json; charset=utf-8');
      expect(res.headers.get('hint'), path).toBe(res.json.message);
    }
  });

  it('ignores parameters the endpoint does not document', async () => {
    const all = await total('/v2/time_entries?per_page=1');
    expect(await total('/v2/time_entries?per_page=1&is_locked=true')).toBe(all);
    expect(await total('/v2/time_entries?per_page=1&billable=false')).toBe(all);
    expect(await total('/v2/time_entries?per_page=1&state=paid')).toBe(all);
    const clients = await total('/v2/clients?per_page=1');
    expect(await total('/v2/clients?per_page=1&client_id=1')).toBe(clients);
    // roles document no filter at all, not even updated_since
    const roles = await total('/v2/roles');
    expect(await total('/v2/roles?updated_since=2100-01-01T00:00:00Z&is_active=false')).toBe(roles);
  });

  it('applies each documented filter', async () => {
    const entries = [...sim.records('time_entries')];
    const sample = entries[7];
    const cases: [string, (r: JsonObject) => boolean][] = [
      [`task_id=${idOf(sample.task) as number}`, (r) => idOf(r.task) === idOf(sample.task)],
      [`client_id=${idOf(sample.client) as number}`, (r) => idOf(r.client) === idOf(sample.client)],
      ['approval_status=submitted', (r) => r.approval_status === 'submitted'],
      ['is_billed=true', (r) => r.is_billed === true],
    ];
    const withRef = entries.find((e) => e.external_reference !== null) as JsonObject;
    const ref = (withRef.external_reference as JsonObject).id as string;
    cases.push([`external_reference_id=${ref}`, (r) => idOf(r.external_reference) === ref]);
    for (const [query, test] of cases) {
      const { records } = await walk(sim, `/v2/time_entries?per_page=200&${query}`, 'time_entries');
      const want = entries.filter(test).map((r) => r.id);
      expect(want.length, query).toBeGreaterThan(0);
      expect(
        records.map((r) => r.id),
        query,
      ).toEqual(want);
    }
  });

  it('filters invoices on a project through their line items', async () => {
    const invoices = [...sim.records('invoices')];
    const project = invoices
      .flatMap((i) => i.line_items as JsonObject[])
      .map((li) => idOf(li.project))
      .find((id) => id !== undefined) as number;
    const { records } = await walk(sim, `/v2/invoices?project_id=${project}`, 'invoices');
    const want = invoices.filter((i) =>
      (i.line_items as JsonObject[]).some((li) => idOf(li.project) === project),
    );
    expect(records.map((r) => r.id)).toEqual(want.map((r) => r.id));
    expect(want.length).toBeLessThan(invoices.length);
  });
});
