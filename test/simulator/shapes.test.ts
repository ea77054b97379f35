import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue, ObjectSpec } from '../../src/catalog/types.js';
import { DEFAULT_OBJECTS } from '../../src/catalog/objects.js';
import { objectTables } from '../../src/catalog/schema.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { readJsonFixture } from '../support/fixtures.js';
import { get } from './helpers.js';

/*
 * The simulator must send what Harvest sends: for every example payload (made-up values, real
 * shapes) the simulator's records have the same keys, the same JSON types where both are non-null,
 * and the same nesting, recursively into nested objects and line items.
 */

/**
 * Keys a record may lack while others carry them: none. Presence is the account's (see
 * vintage.test.ts); a current account sends every documented key on every record.
 */
const SOMETIMES_ABSENT: Record<string, readonly string[]> = {};

type JsonType = 'string' | 'number' | 'boolean' | 'array' | 'object';
const typeOf = (v: JsonValue): JsonType | null =>
  v === null ? null : Array.isArray(v) ? 'array' : (typeof v as JsonType);

/** What a set of records looks like: per key, how often present, non-null types, and inner shapes. */
interface Shape {
  records: number;
  keys: Map<string, { present: number; types: Set<JsonType>; inner: Shape | null }>;
}

function shapeOf(records: Iterable<JsonObject>): Shape {
  const shape: Shape = { records: 0, keys: new Map() };
  const innerRecords = new Map<string, JsonObject[]>();
  for (const record of records) {
    shape.records++;
    for (const [key, value] of Object.entries(record)) {
      const entry = shape.keys.get(key) ?? { present: 0, types: new Set<JsonType>(), inner: null };
      shape.keys.set(key, entry);
      entry.present++;
      const type = typeOf(value);
      if (type) entry.types.add(type);
      const nested =
        type === 'object'
          ? [value as JsonObject]
          : type === 'array'
            ? (value as JsonValue[]).filter((v): v is JsonObject => typeOf(v) === 'object')
            : [];
      if (nested.length > 0) innerRecords.set(key, [...(innerRecords.get(key) ?? []), ...nested]);
    }
  }
  for (const [key, inner] of innerRecords)
    (shape.keys.get(key) as { inner: Shape | null }).inner = shapeOf(inner);
  return shape;
}

/** Differences between an example's shape and the simulator's, as readable lines (empty = same). */
function compare(example: Shape, sim: Shape, path: string, absentOk: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [key, ex] of example.keys) {
    const at = `${path}.${key}`;
    const s = sim.keys.get(key);
    if (!s) {
      problems.push(`${at}: in the example, never sent by the simulator`);
      continue;
    }
    if (s.present < sim.records && !absentOk.includes(key))
      problems.push(`${at}: missing from some simulator records`);
    for (const t of ex.types) {
      if (s.types.size === 0) problems.push(`${at}: the example has a ${t}, the simulator only null`);
      else if (!s.types.has(t)) problems.push(`${at}: example ${t}, simulator ${[...s.types].join('|')}`);
    }
    for (const t of s.types)
      if (ex.types.size > 0 && !ex.types.has(t)) problems.push(`${at}: simulator also sends ${t}`);
    if (ex.inner && s.inner) problems.push(...compare(ex.inner, s.inner, at, []));
  }
  for (const key of sim.keys.keys()) {
    if (!example.keys.has(key)) problems.push(`${path}.${key}: sent by the simulator, not in the example`);
  }
  return problems;
}

const readJson = (file: string) => readJsonFixture<JsonObject>(file);

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.3, seed: 2, rateLimit: null });
});
afterAll(() => sim.stop());

/** A record as the API sends it: without the parent's id the simulator keeps with it. */
function asSent(spec: ObjectSpec, record: JsonObject): JsonObject {
  if (!spec.parent) return record;
  const { [spec.parent.key]: _parent, ...rest } = record;
  return rest;
}

/** The path of an object's list: under one of its parents that has records, if listed per parent. */
function listPath(spec: ObjectSpec): string {
  const key = spec.parent?.key;
  if (key === undefined) return spec.endpoint;
  const first = sim.records(spec.name).next().value as JsonObject;
  return spec.endpoint.replace('{id}', String(first[key]));
}

describe('every example payload validates against the simulator, field by field', () => {
  for (const spec of DEFAULT_OBJECTS.filter((o) => !o.singleton)) {
    it(`${spec.name}: same keys, types and nesting`, async () => {
      const example = readJson(`harvest-examples/${spec.name}.json`);
      const problems = compare(
        shapeOf(example[spec.envelope] as JsonObject[]),
        shapeOf([...sim.records(spec.name)].map((r) => asSent(spec, r))),
        spec.name,
        SOMETIMES_ABSENT[spec.name] ?? [],
      );
      expect(problems).toEqual([]);
      // the envelope around the records too
      const page = (await get(sim, `${listPath(spec)}?per_page=1`)).json;
      expect(Object.keys(page).sort()).toEqual(Object.keys(example).sort());
      expect(Object.keys(page.links as JsonObject).sort()).toEqual(
        Object.keys(example.links as JsonObject).sort(),
      );
    });
  }

  it('users_me and company: same keys, types and nesting', async () => {
    for (const [file, path] of [
      ['users_me', '/v2/users/me'],
      ['company', '/v2/company'],
    ]) {
      const example = readJson(`harvest-examples/${file}.json`);
      const actual = (await get(sim, path)).json;
      expect(compare(shapeOf([example]), shapeOf([actual]), file, [])).toEqual([]);
    }
  });

  it('exercises the awkward values real data has', () => {
    const entries = [...sim.records('time_entries')];
    const notes = entries.map((e) => e.notes);
    expect(notes).toContain(null);
    expect(notes).toContain('');
    expect(notes.some((n) => typeof n === 'string' && /\p{Extended_Pictographic}/u.test(n))).toBe(true);
    expect(notes.some((n) => typeof n === 'string' && n.includes("'); DROP TABLE"))).toBe(true);
    expect(notes.some((n) => typeof n === 'string' && n.length > 20_000)).toBe(true);
    expect(entries.every((e) => (e.id as number) > 2 ** 31)).toBe(true);
    expect(entries.some((e) => Number.isInteger(e.hours) && e.hours !== 0)).toBe(true);
    expect(entries.some((e) => !Number.isInteger(e.hours))).toBe(true);
    expect(
      entries.some((e) => e.external_reference === null) &&
        entries.some((e) => e.external_reference !== null),
    ).toBe(true);
    expect(entries.some((e) => /^\d{1,2}:\d{2}(am|pm)$/.test(String(e.started_time)))).toBe(true);
    expect(entries.some((e) => /^\d{2}:\d{2}$/.test(String(e.started_time)))).toBe(true);
    const expenses = [...sim.records('expenses')];
    expect(expenses.some((e) => e.receipt === null) && expenses.some((e) => e.receipt !== null)).toBe(true);
    const invoices = [...sim.records('invoices')];
    expect(invoices.some((i) => i.estimate !== null) && invoices.some((i) => i.retainer !== null)).toBe(true);
  });

  it('keeps references consistent: every time entry points at records that exist', () => {
    const byId = (object: string) => new Set([...sim.records(object)].map((r) => r.id));
    const [users, projects, clients, tasks, uas, tas] = [
      'users',
      'projects',
      'clients',
      'tasks',
      'user_assignments',
      'task_assignments',
    ].map(byId);
    const projectClient = new Map(
      [...sim.records('projects')].map((p) => [p.id, (p.client as JsonObject).id]),
    );
    for (const e of sim.records('time_entries')) {
      const ref = (k: string) => (e[k] as JsonObject).id;
      expect(
        users.has(ref('user')) &&
          projects.has(ref('project')) &&
          clients.has(ref('client')) &&
          tasks.has(ref('task')),
      ).toBe(true);
      expect(uas.has(ref('user_assignment')) && tas.has(ref('task_assignment'))).toBe(true);
      expect(projectClient.get(ref('project'))).toBe(ref('client'));
    }
  });
});

describe('the simulator and the catalog agree', () => {
  for (const spec of DEFAULT_OBJECTS) {
    it(`${spec.name}: every key sent is declared, every declared column is sent`, () => {
      const records = [...sim.records(spec.name)];
      for (const table of objectTables(spec)) {
        const child = spec.children.find((c) => c.name === table.name);
        const rows = child
          ? records.flatMap((r) => r[child.field] as JsonObject[])
          : records.map((r) => asSent(spec, r));
        const sent = new Set<string>();
        const collect = (value: JsonObject, prefix: string[]) => {
          for (const [k, v] of Object.entries(value)) {
            if (typeOf(v) === 'object') collect(v as JsonObject, [...prefix, k]);
            else sent.add([...prefix, k].join('_'));
          }
        };
        rows.forEach((r) => collect(r, []));
        if (child?.idFromPosition?.ownId) sent.delete('id');
        // a nested object that is always null still "sends" its columns as nulls
        // positional ids (ChildSpec.idFromPosition) are harvest-sync's, not sent
        const ours = [
          table.parentKey,
          child?.idFromPosition ? 'id' : undefined,
          child?.idFromPosition?.ownId,
        ];
        const declared = table.columns.filter((c) => !ours.includes(c.name));
        const missing = declared.filter((c) => !sent.has(c.name) && !rows.some((r) => r[c.path[0]] === null));
        // the docs and the example show expenses' user_assignment without use_default_rates
        const allowed = spec.name === 'expenses' ? ['user_assignment_use_default_rates'] : [];
        expect(missing.map((c) => c.name).filter((n) => !allowed.includes(n))).toEqual([]);
        // a null nested object arrives as one key standing for all its columns
        const isDeclared = (n: string) => declared.some((c) => c.name === n || c.name.startsWith(`${n}_`));
        const undeclared = [...sent].filter((n) => !isDeclared(n));
        expect(undeclared.filter((n) => !spec.children.some((c) => c.field === n))).toEqual([]);
        expect(sent.size).toBeGreaterThan(0);
      }
    });
  }
});

describe('recorded Harvest responses share the simulator’s shapes', () => {
  // legacy permission flags Harvest sent on users in 2019, before access_roles
  const LEGACY = [
    'is_admin',
    'is_project_manager',
    'can_see_rates',
    'can_create_projects',
    'can_create_invoices',
  ];
  for (const name of [
    'clients',
    'contacts',
    'invoices',
    'projects',
    'tasks',
    'task_assignments',
    'user_assignments',
    'users',
    'time_entries',
  ]) {
    it(`${name}: types agree on every common key, and no key is unknown to the simulator`, () => {
      const recorded = shapeOf(readJson(`harvest-recorded/${name}.json`)[name] as JsonObject[]);
      const simulated = shapeOf(sim.records(name));
      const problems = compare(recorded, simulated, name, SOMETIMES_ABSENT[name] ?? []).filter(
        (p) =>
          // recordings are older and smaller: keys added since, or values only null there, are fine
          !p.includes('not in the example') &&
          !p.includes('missing from some simulator records') &&
          !LEGACY.some((k) => p.startsWith(`${name}.${k}:`)),
      );
      expect(problems).toEqual([]);
    });
  }
});
