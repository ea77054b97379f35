import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { startHtmlNotFoundServer } from '../support/harvest-answers.js';
import { runState } from '../support/waiting.js';
import type { presentRun } from '../../src/server/present.js';

/*
 * `harvest-sync serve` as a user runs it: a real process, a real port, the simulator as Harvest and a
 * SQLite destination, driven only through the HTTP API.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const API_TOKEN = randomBytes(32).toString('base64url');
const ADMIN_PASSWORD = 'e2e admin password ' + randomBytes(6).toString('hex');
const HARVEST_TOKEN = 'e2e.pt.' + randomBytes(24).toString('base64url');
const OBJECTS = ['clients', 'contacts', 'projects', 'tasks', 'users', 'time_entries', 'invoices', 'expenses'];

interface Serve {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exit: Promise<number | null>;
}

const CREDENTIAL_ENV = { HARVEST_SYNC_API_TOKEN: API_TOKEN, HARVEST_SYNC_ADMIN_PASSWORD: ADMIN_PASSWORD };

function serveEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HARVEST_SYNC_LOG_LEVEL: 'debug', ...extra };
  for (const name of ['HARVEST_SYNC_API_TOKEN', 'HARVEST_SYNC_ADMIN_PASSWORD', 'HARVEST_SYNC_SECRET_KEY']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function startServe(
  dataDir: string,
  env: Record<string, string> = CREDENTIAL_ENV,
  alsoAllowed: readonly string[] = [],
): Promise<Serve> {
  const child = spawn(
    process.execPath,
    // the simulator stands for Harvest: saved pipelines may use it only when allowed
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--allow-base-url',
      sim.url,
      ...alsoAllowed.flatMap((origin) => ['--allow-base-url', origin]),
    ],
    { cwd: ROOT, env: serveEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return new Promise((resolveStart, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'harvest-sync serve listening' && entry.url)
        resolveStart({ url: entry.url, child, output, exit });
    });
    void exit.then((code) =>
      reject(new Error(`serve exited (${code}) before listening:\n${output.join('\n')}`)),
    );
  });
}

interface Reply {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are inspected freely in tests
  readonly body: any;
  readonly text: string;
}

const responses: string[] = [];

async function api(serve: Serve, method: string, path: string, json?: unknown): Promise<Reply> {
  const res = await fetch(`${serve.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  responses.push(text);
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text };
}

/** A run as GET /api/runs/:id sends it. */
type RunBody = ReturnType<typeof presentRun>;

/** The run in that serve process once `done` holds (test/support/waiting.ts: runState). */
function waitForRun(serve: Serve, runId: number, done: (run: RunBody) => boolean) {
  return runState<RunBody>(
    { url: serve.url, runId, headers: { authorization: `Bearer ${API_TOKEN}` } },
    done,
  );
}

/** Every live row of the destination equals the simulator's records, by id and updated_at. */
function expectExactCopy(sim: Simulator, dbPath: string, objects: readonly string[]) {
  const db = new Database(dbPath, { readonly: true });
  try {
    for (const object of objects) {
      const expected = [...sim.records(object)].map((r) => `${String(r.id)} ${String(r.updated_at)}`).sort();
      const rows = db
        .prepare(`SELECT id, updated_at FROM "${object}" WHERE _deleted_at IS NULL`)
        .all() as Array<{ id: number; updated_at: string }>;
      const actual = rows.map((r) => `${r.id} ${r.updated_at}`).sort();
      expect(actual, object).toEqual(expected);
    }
  } finally {
    db.close();
  }
}

let sim: Simulator;
let dataDir: string;
const serves: Serve[] = [];

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.2, adminToken: HARVEST_TOKEN, rateLimit: null });
  dataDir = mkdtempSync(join(tmpdir(), 'hs-serve-'));
});

afterAll(async () => {
  for (const serve of serves) if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('harvest-sync serve', () => {
  it('replicates through the API, survives SIGTERM mid-run, and resumes with exact data', async () => {
    const first = await startServe(dataDir);
    serves.push(first);

    const health = await fetch(`${first.url}/api/health`).then((r) => r.json());
    expect(health).toMatchObject({ status: 'ok', scheduler: { running: true } });
    expect((await fetch(`${first.url}/api/pipelines`)).status).toBe(401);
    expect(new URL(first.url).hostname).toBe('127.0.0.1');

    // paused on creation, so the scheduler leaves it to the manual run below
    const created = await api(first, 'POST', '/api/pipelines', {
      name: 'e2e',
      token: HARVEST_TOKEN,
      accountId: sim.accountId,
      baseUrl: sim.url,
      destination: 'sqlite:e2e.db',
      objects: OBJECTS,
      frequencyHours: 24,
      enabled: false,
    });
    expect(created.status).toBe(201);
    const id = created.body.pipeline.id as number;
    expect(created.body.pipeline).toMatchObject({ status: 'paused', tokenLast4: HARVEST_TOKEN.slice(-4) });

    const started = await api(first, 'POST', `/api/pipelines/${id}/run`);
    expect(started.status).toBe(202);
    const run1 = await waitForRun(first, started.body.run.id, (run) => run.status !== 'running');
    expect(run1.status).toBe('succeeded');
    expect(run1.objects.map((o: { object: string }) => o.object).sort()).toEqual([...OBJECTS].sort());
    for (const stats of run1.objects) {
      expect(stats, stats.object).toMatchObject({ status: 'succeeded', mode: 'full' });
      expect(stats.read, stats.object).toBe([...sim.records(stats.object)].length);
      expect(stats.inserted, stats.object).toBe(stats.read);
    }
    expectExactCopy(sim, join(dataDir, 'e2e.db'), OBJECTS);

    const metrics = await fetch(`${first.url}/metrics`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    const text = await metrics.text();
    expect(text).toContain('harvest_sync_runs_total{status="succeeded"} 1');
    const entries = [...sim.records('time_entries')].length;
    expect(text).toContain(`harvest_sync_records_total{object="time_entries"} ${entries}`);
    const calls = Number(/^harvest_sync_api_calls_total (\d+)$/m.exec(text)?.[1]);
    expect(calls).toBe(run1.totals.calls);
    expect(text).toMatch(/^harvest_sync_run_duration_seconds_count 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`${first.url}/metrics`)).status).toBe(401);

    const resumed = await api(first, 'POST', `/api/pipelines/${id}/resume`);
    expect(resumed.body.pipeline).toMatchObject({ enabled: true, status: 'healthy' });
    expect(Date.parse(resumed.body.pipeline.nextRunAt)).toBe(Date.parse(run1.startedAt) + 24 * 3600_000);
    const paused = await api(first, 'POST', `/api/pipelines/${id}/pause`);
    expect(paused.body.pipeline).toMatchObject({ enabled: false, status: 'paused' });

    // Harvest changes, and answers slowly enough for SIGTERM to land mid-run (an incremental run:
    // deletions are the engine tests' business).
    const client = sim.records('clients').next().value!;
    sim.update('clients', Number(client.id), { name: 'Renamed while serve runs' });
    const newEntry = sim.create('time_entries');
    sim.setFaults({ slowRate: 1, slowMs: 1000 });
    const second = await api(first, 'POST', `/api/pipelines/${id}/run`);
    const run2Id = second.body.run.id as number;
    await waitForRun(first, run2Id, (run) => run.objects.some((o) => o.status === 'succeeded'));
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);

    // the run's row as the stopped process left it, before any restart could repair it
    const control = new Database(join(dataDir, 'control.db'), { readonly: true });
    const row = control.prepare('SELECT status, error FROM runs WHERE id = ?').get(run2Id) as {
      status: string;
      error: string;
    };
    control.close();
    expect(row.status).toBe('interrupted');

    sim.setFaults(null);
    const again = await startServe(dataDir);
    serves.push(again);
    const interrupted = await api(again, 'GET', `/api/runs/${run2Id}`);
    expect(interrupted.body.run.status).toBe('interrupted');
    expect(interrupted.body.run.objects.some((o: { status: string }) => o.status === 'interrupted')).toBe(
      true,
    );

    const third = await api(again, 'POST', `/api/pipelines/${id}/run`);
    const run3 = await waitForRun(again, third.body.run.id, (run) => run.status !== 'running');
    expect(run3.status).toBe('succeeded');
    expectExactCopy(sim, join(dataDir, 'e2e.db'), OBJECTS);
    const db = new Database(join(dataDir, 'e2e.db'), { readonly: true });
    expect(db.prepare('SELECT name FROM clients WHERE id = ?').get(client.id)).toEqual({
      name: 'Renamed while serve runs',
    });
    expect(db.prepare('SELECT count(*) AS n FROM time_entries WHERE id = ?').get(newEntry.id)).toEqual({
      n: 1,
    });
    db.close();

    const runs = await api(again, 'GET', `/api/pipelines/${id}/runs`);
    expect(runs.body.runs.map((r: { status: string }) => r.status)).toEqual([
      'succeeded',
      'interrupted',
      'succeeded',
    ]);

    const deleted = await api(again, 'DELETE', `/api/pipelines/${id}`);
    expect(deleted.body).toEqual({ deleted: true, id });
    expect((await api(again, 'GET', `/api/pipelines/${id}`)).status).toBe(404);

    again.child.kill('SIGTERM');
    expect(await again.exit).toBe(0);

    // no secret in any response, any log line, or in clear in the data directory
    const everything = [...responses, ...first.output, ...again.output].join('\n');
    expect(everything).toContain('run finished');
    for (const secret of [API_TOKEN, ADMIN_PASSWORD, HARVEST_TOKEN]) {
      expect(everything).not.toContain(secret);
      for (const file of readdirSync(dataDir)) {
        if (file.startsWith('e2e.db')) continue;
        expect(readFileSync(join(dataDir, file)).includes(secret), file).toBe(false);
      }
    }
  });
});

describe('serve credentials', () => {
  it('generates the admin password and API token on first start, prints them once, and lets them in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-first-'));
    try {
      const first = await startServe(dir, {});
      serves.push(first);
      const printed = first.output.join('\n');
      const password = /admin password \(generated, shown only this once\): (\S+)/.exec(printed)?.[1];
      const token = /API token \(generated, shown only this once\): (\S+)/.exec(printed)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(printed).toContain('harvest-sync serve --set-password');
      // printed once, on stdout, and never by the logger
      expect(printed.split(password!)).toHaveLength(2);
      expect(printed.split('\n').filter((line) => line.startsWith('{') && line.includes(password!))).toEqual(
        [],
      );

      const login = await fetch(`${first.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      expect(login.status).toBe(200);
      expect(login.headers.get('set-cookie')).toMatch(/^hs_session=.*HttpOnly/);
      const list = await fetch(`${first.url}/api/pipelines`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(list.status).toBe(200);
      first.child.kill('SIGTERM');
      expect(await first.exit).toBe(0);

      // --set-password reads the new one from stdin
      const setter = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--set-password', '--data-dir', dir],
        { cwd: ROOT, env: serveEnv({}), stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let setterOutput = '';
      setter.stdout.on('data', (chunk: Buffer) => (setterOutput += chunk.toString()));
      setter.stderr.on('data', (chunk: Buffer) => (setterOutput += chunk.toString()));
      setter.stdin.end('my chosen admin password\n');
      expect(await new Promise((done) => setter.once('exit', done))).toBe(0);
      expect(setterOutput).toContain('admin password set');
      expect(setterOutput).not.toContain('my chosen admin password');

      const second = await startServe(dir, {});
      serves.push(second);
      expect(second.output.join('\n')).not.toContain('shown only this once');
      const old = await fetch(`${second.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      expect(old.status).toBe(401);
      const chosen = await fetch(`${second.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'my chosen admin password' }),
      });
      expect(chosen.status).toBe(200);
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad port with a one-line message and exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', 'http'], {
      cwd: ROOT,
      env: serveEnv({}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise((done) => child.once('exit', done))).toBe(2);
    expect(stderr).toBe('error: --port must be a whole number from 0 to 65535\n');
  });
});

describe('no empty success through the API', () => {
  it('tests base URLs honestly, and fails runs that synced nothing or met something else than Harvest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-empty-'));
    const notHarvest = await startHtmlNotFoundServer();
    try {
      // the server that is not Harvest is allowed too: what is tested here is what answers from it
      const serve = await startServe(dir, CREDENTIAL_ENV, [notHarvest.url]);
      serves.push(serve);
      const connection = (baseUrl: string) =>
        api(serve, 'POST', '/api/connection-test', {
          token: HARVEST_TOKEN,
          accountId: sim.accountId,
          baseUrl,
        });

      // the documented form with /v2 passes; an HTML 404 gets the one generic line, nothing of the page
      const good = await connection(`${sim.url}/v2/`);
      expect(good.body).toMatchObject({ ok: true, admin: true });
      const bad = await connection(`${notHarvest.url}/v2`);
      expect(bad.status).toBe(200);
      expect(bad.body).toEqual({
        ok: false,
        user: null,
        company: null,
        admin: false,
        objects: [],
        message: `connection test failed: could not reach Harvest at ${notHarvest.url}: check the Harvest API URL (Harvest's own is https://api.harvestapp.com), or try again later`,
      });

      const runOf = async (name: string, token: string, baseUrl: string, objects: string[]) => {
        const created = await api(serve, 'POST', '/api/pipelines', {
          name,
          token,
          accountId: sim.accountId,
          baseUrl,
          destination: `sqlite:${name}.db`,
          objects,
          enabled: false,
        });
        expect(created.status, created.text).toBe(201);
        const started = await api(serve, 'POST', `/api/pipelines/${created.body.pipeline.id}/run`);
        const run = await waitForRun(serve, started.body.run.id, (r) => r.status !== 'running');
        return { pipeline: created.body.pipeline, run };
      };

      // a member token: only objects it may not read → failed, with Harvest's reasons
      const skipped = await runOf('member-admin-objects', sim.memberToken, `${sim.url}/v2/`, [
        'clients',
        'contacts',
      ]);
      expect(skipped.pipeline.baseUrl).toBe(sim.url);
      expect(skipped.run.status).toBe('failed');
      expect(skipped.run.error).toMatch(
        /^nothing was synced: every selected object was skipped — clients: this token may not read clients \(403 Not authorized!\).*; contacts: /,
      );
      expect(skipped.run.objects.map((o: { status: string }) => o.status)).toEqual(['skipped', 'skipped']);

      // one readable object is enough for a success; the other is still skipped
      const some = await runOf('member-mixed', sim.memberToken, sim.url, ['clients', 'time_entries']);
      expect(some.run.status).toBe('succeeded');
      expect(some.run.objects.map((o: { status: string }) => o.status)).toEqual(['skipped', 'succeeded']);

      // something else than Harvest answering: failed, naming the URL, no object succeeded
      const wrong = await runOf('wrong-url', HARVEST_TOKEN, notHarvest.url, ['clients', 'users']);
      expect(wrong.run.status).toBe('failed');
      expect(wrong.run.error).toMatch(
        new RegExp(
          `^(clients|users): GET ${notHarvest.url}/v2/(clients|users)\\?per_page=2000 answered 404 with an HTML page`,
        ),
      );
      expect(wrong.run.objects.map((o: { status: string }) => o.status)).toEqual(['failed', 'failed']);
      expect(JSON.stringify(wrong.run)).not.toMatch(/<|Can.t find page/);

      const runs = await api(serve, 'GET', '/api/pipelines/member-admin-objects/runs');
      expect(runs.body.runs.map((r: { status: string }) => r.status)).toEqual(['failed']);
      serve.child.kill('SIGTERM');
      expect(await serve.exit).toBe(0);
    } finally {
      await notHarvest.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
