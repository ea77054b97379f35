import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTS, OBJECTS, hasCursor } from '../../src/catalog/objects.js';
import type { JsonObject } from '../../src/catalog/types.js';
import { applyRecords, expectSameAsSqlite, type Replica } from '../connectors/compare.js';
import {
  CLI,
  ProtocolValidator,
  runNode,
  simConfig,
  TAP_BIN,
  type RunResult,
  connectorWorld,
  runFlags,
} from '../connectors/support.js';

/*
 * The Singer tap as Meltano runs it: the `tap-harvest-sync` bin, a real process, over HTTP against
 * the simulator. Every message is checked against the Singer spec's schemas and every record
 * against its stream's SCHEMA; the records equal what `harvest-sync run` writes into SQLite.
 */

const validator = new ProtocolValidator();
const world = connectorWorld({ scale: 0.03, seed: 11 });

function tap(...args: string[]): Promise<RunResult> {
  return runNode(TAP_BIN, args);
}

/** Checks every message (and every record against its stream's latest SCHEMA); returns the records. */
function checkMessages(result: RunResult): Array<{ stream: string; data: JsonObject; message: JsonObject }> {
  expect(result.stderr).not.toMatch(/^CRITICAL/m);
  expect(result.code).toBe(0);
  expect(result.invalid).toEqual([]);
  const schemas = new Map<string, JsonObject>();
  const records = [];
  for (const message of result.messages) {
    validator.check('singer.schema.json#/definitions/message', message);
    if (message.type === 'SCHEMA') {
      const schema = message.schema as JsonObject;
      for (const key of message.key_properties as string[]) expect(schema.properties).toHaveProperty(key);
      schemas.set(message.stream as string, schema);
    } else if (message.type === 'RECORD') {
      const stream = message.stream as string;
      const schema = schemas.get(stream);
      expect(schema, `SCHEMA before RECORD of ${stream}`).toBeDefined();
      validator.checkAgainst(schema as JsonObject, message.record, stream);
      records.push({ stream, data: message.record as JsonObject, message });
    }
  }
  expect(result.messages.at(-1)?.type).toBe('STATE');
  return records;
}

function lastState(result: RunResult): JsonObject {
  const states = result.messages.filter((m) => m.type === 'STATE');
  return states.at(-1)?.value as JsonObject;
}

describe('tap-harvest-sync', () => {
  const config = () =>
    world.files.file('config.json', simConfig(world.sim, { per_page: 25, concurrency: 4 }));

  it('--discover prints a Singer catalog of every catalog object, with keys, replication and metadata', async () => {
    const result = await tap('--config', config(), '--discover');
    expect(result.code).toBe(0);
    const catalog = JSON.parse(result.stdout) as { streams: JsonObject[] };
    validator.check('singer.schema.json#/definitions/catalog', catalog);
    expect(catalog.streams.map((s) => s.tap_stream_id)).toEqual(OBJECTS.map((o) => o.name));
    for (const stream of catalog.streams) {
      const spec = OBJECTS.find((o) => o.name === stream.tap_stream_id);
      const properties = (stream.schema as JsonObject).properties as JsonObject;
      expect(stream.key_properties).toEqual(['id']);
      // reports read their current window again: no bookmark, full table to Singer
      expect(stream.replication_method).toBe(spec && hasCursor(spec) ? 'INCREMENTAL' : 'FULL_TABLE');
      for (const { breadcrumb, metadata } of stream.metadata as Array<{
        breadcrumb: string[];
        metadata: JsonObject;
      }>) {
        // reports spend their own scarce budget: listed, not selected unless asked for
        if (breadcrumb.length === 0) expect(metadata.selected).toBe(spec?.report === undefined);
        else expect(properties).toHaveProperty(breadcrumb[1]);
      }
      for (const child of spec?.children ?? [])
        expect(properties[child.field]).toMatchObject({ type: ['null', 'array'] });
    }
  });

  it('reads every stream in full, then incrementally from its STATE; the records equal what `run` writes to SQLite', async () => {
    const db = join(world.files.dir, 'run.db');
    const full = await tap('--config', config());
    const replica: Replica = applyRecords(new Map(), checkMessages(full));
    // a full pass that may mark deletions activates its table version after its last record
    const activated = full.messages.filter((m) => m.type === 'ACTIVATE_VERSION').map((m) => m.stream);
    expect(activated.sort()).toEqual(DEFAULT_OBJECTS.map((o) => o.name).sort());
    const runFull = await runNode(CLI, ['run', '--destination', `sqlite:${db}`, ...runFlags(world.sim)]);
    expect(runFull.code, runFull.stderr).toBe(0);
    expectSameAsSqlite(replica, db);

    // Harvest changes: an edit, a creation, a line item removed from its invoice
    const entry = world.sim.records('time_entries').next().value as JsonObject;
    world.sim.update('time_entries', entry.id as number, { notes: 'edited for the incremental read' });
    const client = world.sim.create('clients', { name: 'Created Between Reads' });
    const invoice = [...world.sim.records('invoices')].find(
      (i) => (i.line_items as JsonObject[]).length > 1,
    ) as JsonObject;
    const kept = (invoice.line_items as JsonObject[]).slice(1);
    world.sim.updateLineItems('invoices', invoice.id as number, kept);
    // and Harvest starts sending a field the catalog does not know
    world.sim.addField('time_entries', 'approval_note', () => 'approved by the tests');

    const statePath = world.files.file('state.json', lastState(full));
    const incremental = await tap('--config', config(), '--state', statePath);
    const changed = checkMessages(incremental);
    const ids = (stream: string) => changed.filter((r) => r.stream === stream).map((r) => r.data.id);
    // the edited entry, then the running timers (hours growing, updated_at staying) read again
    const running = [...world.sim.records('time_entries')].filter((r) => r.is_running === true);
    expect(ids('time_entries')).toEqual([entry.id, ...running.map((r) => r.id)]);
    // the new field is announced by a new SCHEMA before the record that carries it
    const schemas = incremental.messages.filter((m) => m.type === 'SCHEMA' && m.stream === 'time_entries');
    expect(
      schemas.map((m) => Object.hasOwn((m.schema as JsonObject).properties as JsonObject, 'approval_note')),
    ).toEqual([false, true]);
    expect(changed.find((r) => r.stream === 'time_entries')?.data.approval_note).toBe(
      'approved by the tests',
    );
    expect(ids('clients')).toEqual([client.id]);
    const reread = changed.find((r) => r.stream === 'invoices' && r.data.id === invoice.id)?.data;
    expect((reread?.line_items as JsonObject[]).map((i) => i.id)).toEqual(kept.map((i) => i.id));
    // roles and company have no updated_since: read in full, with a new table version
    expect(ids('roles').length).toBe([...world.sim.records('roles')].length);
    expect(incremental.messages.filter((m) => m.type === 'ACTIVATE_VERSION').map((m) => m.stream)).toEqual([
      'roles',
      'company',
    ]);

    applyRecords(replica, changed);
    const runIncremental = await runNode(CLI, [
      'run',
      '--destination',
      `sqlite:${db}`,
      ...runFlags(world.sim),
    ]);
    expect(runIncremental.code, runIncremental.stderr).toBe(0);
    expectSameAsSqlite(replica, db);
  });

  it('reads only the selected streams and fields; FULL_TABLE re-reads in full under a new table version', async () => {
    const discovered = JSON.parse((await tap('--config', config(), '--discover')).stdout) as {
      streams: JsonObject[];
    };
    const catalog = {
      streams: discovered.streams.map((stream) => {
        const metadata = (stream.metadata as Array<{ breadcrumb: string[]; metadata: JsonObject }>).map(
          (m) => {
            if (m.breadcrumb.length === 0) {
              const selected = ['clients', 'tasks'].includes(stream.tap_stream_id as string);
              const method = stream.tap_stream_id === 'clients' ? { 'replication-method': 'FULL_TABLE' } : {};
              return { ...m, metadata: { ...m.metadata, selected, ...method } };
            }
            return m.breadcrumb[1] === 'address' || m.breadcrumb[1] === 'id'
              ? { ...m, metadata: { ...m.metadata, selected: false } }
              : m;
          },
        );
        return { ...stream, metadata };
      }),
    };
    const catalogPath = world.files.file('catalog.json', catalog);
    const first = await tap('--config', config(), '--catalog', catalogPath);
    const records = checkMessages(first);
    expect(new Set(records.map((r) => r.stream))).toEqual(new Set(['clients', 'tasks']));
    const clients = records.filter((r) => r.stream === 'clients');
    // a deselected field is left out; the key is automatic, so it stays
    for (const { data } of clients) expect(Object.keys(data)).toEqual(expect.arrayContaining(['id', 'name']));
    for (const { data } of clients) expect(data).not.toHaveProperty('address');
    const schema = first.messages.find((m) => m.type === 'SCHEMA' && m.stream === 'clients')
      ?.schema as JsonObject;
    expect(schema.properties).not.toHaveProperty('address');

    // a client deleted in Harvest is absent from the next full version; ACTIVATE_VERSION drops it
    const gone = clients[0].data.id as number;
    world.sim.remove('clients', gone);
    const second = await tap(
      '--config',
      config(),
      '--catalog',
      catalogPath,
      '--state',
      world.files.file('s.json', lastState(first)),
    );
    const again = checkMessages(second).filter((r) => r.stream === 'clients');
    const versionOf = (run: RunResult) =>
      run.messages.find((m) => m.type === 'ACTIVATE_VERSION' && m.stream === 'clients')?.version as number;
    expect(versionOf(second)).toBeGreaterThan(versionOf(first));
    expect(again.every((r) => r.message.version === versionOf(second))).toBe(true);
    const activate = second.messages.findIndex(
      (m) => m.type === 'ACTIVATE_VERSION' && m.stream === 'clients',
    );
    expect(second.messages.findLastIndex((m) => m.type === 'RECORD' && m.stream === 'clients')).toBeLessThan(
      activate,
    );
    expect(again.map((r) => r.data.id).sort()).toEqual(
      [...world.sim.records('clients')].map((c) => c.id).sort(),
    );
    expect(again.map((r) => r.data.id)).not.toContain(gone);
    // tasks stay incremental: nothing changed, nothing emitted, no new version
    expect(checkMessages(second).filter((r) => r.stream === 'tasks')).toEqual([]);
  });
});
