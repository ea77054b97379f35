import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/simulator/index.js';
import type { Simulator } from '../src/simulator/index.js';

/*
 * The README's library example, exactly as written there, compiled against the built package's
 * declarations and run as a user's program would: in a folder of its own whose node_modules links
 * harvest-sync (as `npm install` would), importing it by name, so that only package.json's `exports`
 * can lead it to the code. It syncs the simulator into a SQLite file in that folder.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OBJECTS_IN_EXAMPLE = ['clients', 'projects', 'time_entries'];

/** The TypeScript block of the README's "Use it as a library" section. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it as a library\n'));
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## Use it as a library"');
  return code;
}

/** A user's project: package.json, tsconfig, node_modules/harvest-sync → this repository. */
function makeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-library-'));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'harvest-sync'), 'dir');
  symlinkSync(
    join(ROOT, 'node_modules', '@types', 'node'),
    join(dir, 'node_modules', '@types', 'node'),
    'dir',
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true, // as most projects: our declarations are checked where they are made
    outDir: 'out',
    types: ['node'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs node in the project; asynchronously, since the simulator answers from this process. */
function run(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ status: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (status) => resolve({ status, output }));
  });
}

// Types and names a program of the README's kind reaches for, beyond what the example uses.
const SURFACE = `
import type { Destination, HarvestSource, ObjectSpec, SyncEvent, SyncResult, TableSchema } from 'harvest-sync';
import { objectTables, parseDestinationUrl, redactUrl, startSimulator as fromMain } from 'harvest-sync';
import { startSimulator, type Simulator } from 'harvest-sync/simulator';
export const checks: [unknown, unknown, unknown, unknown, unknown] = [objectTables, parseDestinationUrl, redactUrl, fromMain, startSimulator];
export type Used = [Destination, HarvestSource, ObjectSpec, SyncEvent, SyncResult, TableSchema, Simulator];
`;

describe('harvest-sync as a library, by its package name', () => {
  let sim: Simulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    expect(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is built by `npm test` (npm run build)').toBe(
      true,
    );
    sim = await startSimulator({ scale: 0.02, seed: 7, rateLimit: null });
    env = {
      HARVEST_ACCESS_TOKEN: sim.adminToken,
      HARVEST_ACCOUNT_ID: sim.accountId,
      HARVEST_BASE_URL: sim.url,
    };
    dir = makeProject({ 'example.ts': readmeExample(), 'surface.ts': SURFACE });
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the README example type-checks against the published declarations', async () => {
    const tsc = await run(dir, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
    expect(tsc.output).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs and fills the SQLite file with exactly what Harvest holds', async () => {
    const first = await run(dir, ['out/example.js'], env);
    expect(first.output).toContain('succeeded');
    expect(first.status).toBe(0);
    const db = new Database(join(dir, 'harvest.db'), { readonly: true });
    try {
      for (const object of OBJECTS_IN_EXAMPLE) {
        const expected = [...sim.records(object)].map((r) => r.id as number).sort((a, b) => a - b);
        const stored = db.prepare(`select id from ${object} order by id`).pluck().all() as number[];
        expect(stored, object).toEqual(expected);
        expect(first.output).toMatch(new RegExp(`^${object} ${expected.length}$`, 'm'));
      }
      expect(db.prepare('select count(*) from sqlite_master where name = ?').pluck().get('users')).toBe(0);
    } finally {
      db.close();
    }
    // run again: an incremental pass reads only what changed (here one edited client)
    const [client] = sim.records('clients');
    sim.update('clients', client.id as number, { name: 'Renamed by the library test' });
    const second = await run(dir, ['out/example.js'], env);
    expect(second.status).toBe(0);
    expect(second.output).toMatch(/^clients 1$/m);
    // no time entry changed: only the running timers are read again (their hours grow, updated_at stays)
    const running = [...sim.records('time_entries')].filter((r) => r.is_running === true).length;
    expect(second.output).toMatch(new RegExp(`^time_entries ${running}$`, 'm'));
  });

  it('exposes what the README names, and the simulator at harvest-sync/simulator', async () => {
    const probe = `
      const main = await import('harvest-sync');
      const sim = await import('harvest-sync/simulator');
      const names = ['runSync', 'OBJECTS', 'objectTables', 'openDestination', 'parseDestinationUrl', 'redactUrl', 'HarvestClient', 'startSimulator'];
      console.log(JSON.stringify({ missing: names.filter((n) => main[n] === undefined), sim: typeof sim.startSimulator }));`;
    const result = await run(dir, ['--input-type=module', '-e', probe]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.output)).toEqual({ missing: [], sim: 'function' });
  });
});
