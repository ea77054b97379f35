/**
 * Writes test/fixtures/connector-state/<name>.json: the STATE a Singer tap and an Airbyte source
 * emitted partway through a first full read of one stream, by the connectors as they are when this
 * runs, with the ids of the records emitted before it. The simulator's URL in the state is written
 * as {{base_url}}. Run once per release whose state a later one must read
 * (`npm run build && npx tsx test/connectors/support/capture-release-state.ts <name>`); the file then
 * stands for what that release wrote, and test/connectors/release-state.test.ts resumes from it.
 * Never regenerate a fixture.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from '../../../src/catalog/types.js';
import { startSimulator } from '../../../src/simulator/index.js';
import { RELEASE_STATE } from './release-state.js';

const OUT = fileURLToPath(new URL('../../fixtures/connector-state/', import.meta.url));
const DIST = fileURLToPath(new URL('../../../dist/cli/', import.meta.url));
const NAME = process.argv[2] ?? 'unversioned';
const { stream, perPage, afterStates } = RELEASE_STATE;

const sim = await startSimulator({ ...RELEASE_STATE.simulator, rateLimit: null, timersGrow: false });
const dir = mkdtempSync(join(tmpdir(), 'capture-connector-state-'));
const file = (name: string, value: unknown): string => {
  writeFileSync(join(dir, name), JSON.stringify(value));
  return join(dir, name);
};

/** The messages of one read, and the state after `afterStates` STATEs with the ids emitted before it. */
async function capture(bin: string, args: string[], recordOf: (m: JsonObject) => JsonObject | null) {
  // asynchronously: the simulator answers from this process
  const run = await promisify(execFile)(process.execPath, [join(DIST, bin), ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const messages = run.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JsonObject);
  const ids: number[] = [];
  let states = 0;
  for (const m of messages) {
    const record = recordOf(m);
    if (record) ids.push(Number(record.id));
    if (m.type === 'STATE' && ++states === afterStates) return { state: m, emittedIds: ids };
  }
  throw new Error(`${bin} emitted ${states} STATE and ${ids.length} records; wanted ${afterStates} STATE`);
}

try {
  const config = file('config.json', {
    access_token: sim.adminToken,
    account_id: sim.accountId,
    base_url: sim.url,
    per_page: perPage,
    rate_limit: '100000/1',
  });
  const singer = await capture(
    'tap-main.js',
    ['--config', config, '--catalog', file('singer.json', { streams: [RELEASE_STATE.singerEntry] })],
    (m) => (m.type === 'RECORD' ? (m.record as JsonObject) : null),
  );
  const airbyte = await capture(
    'main.js',
    [
      'airbyte',
      'read',
      '--config',
      config,
      '--catalog',
      file('airbyte.json', { streams: [RELEASE_STATE.airbyteEntry] }),
    ],
    (m) => (m.type === 'RECORD' ? ((m.record as JsonObject).data as JsonObject) : null),
  );
  const fixture = {
    stream,
    perPage,
    singer: { value: singer.state.value, emittedIds: singer.emittedIds },
    airbyte: { state: airbyte.state.state, emittedIds: airbyte.emittedIds },
  };
  mkdirSync(OUT, { recursive: true });
  const text = JSON.stringify(fixture, null, 2).split(sim.url).join('{{base_url}}');
  writeFileSync(join(OUT, `${NAME}.json`), `${text}\n`);
  console.log(`wrote ${join(OUT, `${NAME}.json`)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await sim.stop();
}
