import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { pipelineDestinations } from '../../src/control/destination-scope.js';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import { createApp } from '../../src/server/app.js';
import { Auth, memoryCredentialStore } from '../../src/server/auth.js';
import { createLogger } from '../../src/server/logger.js';
import { createMetrics } from '../../src/server/metrics.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { createWebUi } from '../../src/web/ui.js';
import { CLI, STACK_LINE } from '../cli/cli-helpers.js';
import { cleanEnv, runCliProcess } from './support/cli-process.js';
import type { CliRun } from './support/cli-process.js';
import { PG_URL } from '../support/databases.js';

/*
 * Issue 7, secrets: distinctive secrets go in through every surface (CLI flags and environment, a
 * real `serve` at debug level, every API route with a session and with the API token, the HTML and JS,
 * /metrics, and error paths: wrong token, token revoked mid-run, unreachable destination). Everything
 * that comes out or is left behind is collected — output, HTTP bodies and headers, every file of the
 * data directories, the destination files, pg_dump of every schema used — and none may hold a secret,
 * in clear, base64 or URL-encoded. test/server/app.test.ts greps its own in-process responses; this
 * one goes end to end through real processes.
 */

const rand = () => randomBytes(9).toString('hex');
const SECRETS = {
  harvestToken: `pat-SECRET-${rand()}`,
  wrongToken: `pat-SECRET-wrong-${rand()}`,
  adminPassword: `admin-SECRET-${rand()}`,
  apiToken: `api-SECRET-${rand()}${rand()}`,
  pgPassword: `pgSECRET${rand()}`,
};
const PG_BASE = PG_URL;
const suffix = rand().slice(0, 8);
const ROLE = `hs_secret_${suffix}`;
const SCHEMAS = {
  runDest: `hs_sec_run_${suffix}`,
  cliDest: `hs_sec_cli_${suffix}`,
  apiDest: `hs_sec_api_${suffix}`,
  control: `hs_sec_ctl_${suffix}`,
};

/** Everything seen, with where it came from: swept for the secrets at the end. */
const seen: Array<{ where: string; text: string }> = [];
/** API tokens created during the sweep: each may appear once, in the answer that created it. */
const shownOnce: Array<{ name: string; secret: string }> = [];
const keep = (where: string, text: string) => void seen.push({ where, text });
const keepRun = (where: string, run: CliRun) => {
  keep(`${where} stdout`, run.stdout);
  keep(`${where} stderr`, run.stderr);
  expect(run.stdout + run.stderr, where).not.toMatch(STACK_LINE);
};

/** A PostgreSQL URL as the test role, with its password in it. */
function pgUrl(schema: string, port?: number): string {
  const url = new URL(PG_BASE);
  url.username = ROLE;
  url.password = SECRETS.pgPassword;
  if (port !== undefined) url.port = String(port);
  url.search = `?schema=${schema}`;
  return url.toString();
}

/** The forms a secret could leak in: as is, URL-encoded, and base64/base64url at each alignment. */
function encodings(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('hex')]);
  for (let pad = 0; pad < 3; pad++) {
    for (const alphabet of ['base64', 'base64url'] as const) {
      const encoded = Buffer.from('x'.repeat(pad) + secret).toString(alphabet);
      // drop the characters that also depend on the padding bytes and on what follows
      const start = Math.ceil((pad * 4) / 3) + 1;
      forms.add(encoded.slice(start, start + Math.floor((secret.length * 4) / 3) - 4));
    }
  }
  return [...forms].filter((f) => f.length >= 12);
}

let sim: Simulator;
let root: string;
let admin: pg.Client;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hs-secrets-'));
  sim = await startSimulator({ scale: 0.01, adminToken: SECRETS.harvestToken, rateLimit: null });
  admin = new pg.Client({ connectionString: PG_BASE });
  await admin.connect();
  // a role with a password (trust auth would let it in without one; the password still travels in every URL)
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${SECRETS.pgPassword}'`);
  await admin.query(`GRANT CREATE ON DATABASE ${new URL(PG_BASE).pathname.slice(1)} TO ${ROLE}`);
  for (const schema of Object.values(SCHEMAS))
    await admin.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${ROLE}`);
});

afterAll(async () => {
  await sim?.stop();
  if (admin) {
    for (const schema of Object.values(SCHEMAS)) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`REVOKE ALL ON DATABASE ${new URL(PG_BASE).pathname.slice(1)} FROM ${ROLE}`);
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await admin.end();
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

const harvestFlags = () => ['--account-id', sim.accountId, '--base-url', sim.url];

describe('the CLI', () => {
  it('never shows a secret: check, run, pipelines and runs, with the error paths', async () => {
    const dataDir = join(root, 'cli-data');
    // the simulator stands for Harvest: saved pipelines may use it only when allowed
    const allowSim = { HARVEST_SYNC_ALLOWED_BASE_URLS: sim.url };
    const cli = async (where: string, args: string[], env: Record<string, string> = {}, expectCode = 0) => {
      const run = await runCliProcess(args, { env: { ...allowSim, ...env }, cwd: root, timeoutMs: 60_000 });
      keepRun(where, run);
      expect(run.code, `${where}: ${run.stderr}`).toBe(expectCode);
      return run;
    };
    await cli('check --token', ['check', '--token', SECRETS.harvestToken, ...harvestFlags()]);
    await cli('check env --json', ['check', '--json', ...harvestFlags()], {
      HARVEST_ACCESS_TOKEN: SECRETS.harvestToken,
    });
    const wrong = await cli(
      'check wrong token',
      ['check', '--token', SECRETS.wrongToken, ...harvestFlags()],
      {},
      1,
    );
    expect(wrong.stderr).toMatch(/^error: /);
    const objects = ['--objects', 'clients,projects,users'];
    await cli('run sqlite', [
      'run',
      '--token',
      SECRETS.harvestToken,
      ...harvestFlags(),
      ...objects,
      '--destination',
      `sqlite:${join(root, 'run.db')}`,
    ]);
    await cli(
      'run postgres --json',
      ['run', '--json', ...harvestFlags(), ...objects, '--destination', pgUrl(SCHEMAS.runDest)],
      { HARVEST_ACCESS_TOKEN: SECRETS.harvestToken },
    );
    await cli(
      'run unreachable postgres',
      [
        'run',
        '--token',
        SECRETS.harvestToken,
        ...harvestFlags(),
        ...objects,
        '--destination',
        pgUrl(SCHEMAS.runDest, 1),
      ],
      {},
      1,
    );

    const control = ['--data-dir', dataDir];
    await cli('pipelines create', [
      'pipelines',
      'create',
      ...control,
      '--name',
      'secret sweep',
      '--token',
      SECRETS.harvestToken,
      ...harvestFlags(),
      ...objects,
      '--destination',
      pgUrl(SCHEMAS.cliDest),
    ]);
    await cli(
      'pipelines create --json (sqlite)',
      [
        'pipelines',
        'create',
        ...control,
        '--json',
        '--name',
        'revoked',
        ...harvestFlags(),
        ...objects,
        '--destination',
        'sqlite:revoked.db',
      ],
      { HARVEST_ACCESS_TOKEN: SECRETS.harvestToken },
    );
    await cli(
      'pipelines create refused',
      [
        'pipelines',
        'create',
        ...control,
        '--name',
        'wrong token',
        '--token',
        SECRETS.wrongToken,
        ...harvestFlags(),
        '--destination',
        pgUrl(SCHEMAS.cliDest),
      ],
      {},
      1,
    );
    // the allow-list: a pipeline to an origin not on it is refused, and one saved before fails to run
    await cli(
      'pipelines create, origin not allowed',
      [
        'pipelines',
        'create',
        ...control,
        '--name',
        'elsewhere',
        '--token',
        SECRETS.harvestToken,
        '--account-id',
        sim.accountId,
        '--base-url',
        'https://harvest-proxy.example',
        '--destination',
        'sqlite:elsewhere.db',
      ],
      {},
      2,
    );
    await cli(
      'pipelines update --base-url without the token',
      [
        'pipelines',
        'update',
        'secret sweep',
        '--base-url',
        `${sim.url.replace('127.0.0.1', 'localhost')}`,
        '--allow-base-url',
        sim.url.replace('127.0.0.1', 'localhost'),
        ...control,
      ],
      {},
      2,
    );
    const disallowed = await cli(
      'pipelines run, origin no longer allowed',
      ['pipelines', 'run', 'secret sweep', ...control],
      { HARVEST_SYNC_ALLOWED_BASE_URLS: '' },
      1,
    );
    expect(disallowed.stderr).toMatch(/not an allowed Harvest API URL/);
    await cli('pipelines list', ['pipelines', 'list', ...control]);
    await cli('pipelines list --json', ['pipelines', 'list', '--json', ...control]);
    await cli('pipelines show --json', ['pipelines', 'show', 'secret sweep', '--json', ...control]);
    await cli('pipelines show', ['pipelines', 'show', 'secret sweep', ...control]);
    await cli('pipelines update', [
      'pipelines',
      'update',
      'secret sweep',
      '--json',
      '--token',
      SECRETS.harvestToken,
      ...control,
    ]);
    await cli(
      'pipelines update refused',
      ['pipelines', 'update', 'secret sweep', '--token', SECRETS.wrongToken, ...control],
      {},
      1,
    );
    await cli('pipelines run', ['pipelines', 'run', 'secret sweep', ...control]);
    await cli('pipelines run --json', [
      'pipelines',
      'run',
      'secret sweep',
      '--json',
      '--full-refresh',
      ...control,
    ]);
    // the token revoked by Harvest while the run reads
    sim.setFaults({ revokeAfterPages: 1 });
    const revoked = await cli('pipelines run revoked', ['pipelines', 'run', 'revoked', ...control], {}, 1);
    sim.setFaults(null);
    expect(revoked.stderr).toMatch(/^error: /m);
    await cli('runs list', ['runs', 'list', ...control]);
    await cli('runs list --json', ['runs', 'list', '--json', ...control]);
    await cli('runs show --json', ['runs', 'show', '1', '--json', ...control]);
    await cli('runs show', ['runs', 'show', '2', ...control]);
  }, 120_000);
});

interface Serve {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startServe(name: string, args: string[], env: Record<string, string>): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: cleanEnv({ HARVEST_SYNC_LOG_LEVEL: 'debug', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'harvest-sync serve listening' && entry.url) resolve(entry.url);
      } catch {
        // the first-start banner is plain text
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
  return {
    child,
    url,
    output: () => output,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      keep(`serve ${name} output`, output);
      expect(output, `serve ${name}`).not.toMatch(STACK_LINE);
    },
  };
}

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are read freely in tests
  readonly body: any;
}

/** Every route the serve process mounts, from the real app (API and UI): the sweep must call each. */
async function registeredRoutes(): Promise<string[]> {
  const dataDir = mkdtempSync(join(root, 'routes-'));
  const store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)) });
  try {
    const app = createApp({
      store,
      scheduler: {
        isRunning: () => false,
        runNow: () => Promise.reject(new Error('unused')),
        nextRunAt: () => null,
      },
      auth: new Auth({ credentials: memoryCredentialStore() }),
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
      clock: systemClock,
      testConnection: () => Promise.reject(new Error('unused')),
      testDestination: () => Promise.reject(new Error('unused')),
      destinations: pipelineDestinations(dataDir),
    });
    app.route('/', createWebUi());
    return [...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))];
  } finally {
    await store.close();
  }
}

describe('serve', () => {
  it('never shows a secret on any route, log line or page; cookie flags; scrypt; loopback only', async () => {
    const dataDir = join(root, 'serve-data');
    const serve = await startServe(
      'postgres control',
      ['--data-dir', dataDir, '--control-store', pgUrl(SCHEMAS.control), '--allow-base-url', sim.url],
      {
        HARVEST_SYNC_ADMIN_PASSWORD: SECRETS.adminPassword,
        HARVEST_SYNC_API_TOKEN: SECRETS.apiToken,
      },
    );
    const called = new Set<string>();
    const call = async (
      route: string,
      path: string,
      options: { json?: unknown; headers?: Record<string, string>; method?: string } = {},
    ): Promise<Reply> => {
      const method = options.method ?? route.split(' ')[0];
      called.add(route);
      const res = await fetch(`${serve.url}${path}`, {
        method,
        redirect: 'manual',
        headers: {
          ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
      });
      const text = await res.text();
      const headers: string[] = [];
      res.headers.forEach((value, name) => headers.push(`${name}: ${value}`));
      keep(`${method} ${path} ${res.status} headers`, headers.join('\n'));
      keep(`${method} ${path} ${res.status} body`, text);
      expect(text, `${method} ${path}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      return { status: res.status, headers: res.headers, text, body };
    };
    try {
      // bound to loopback only: the listening URL, and a refused connection on another local address
      expect(new URL(serve.url).hostname).toBe('127.0.0.1');
      const port = Number(new URL(serve.url).port);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
      if (external) {
        const refused = await new Promise<string>((resolve) => {
          const socket = connect({ host: external.address, port });
          socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        });
        expect(refused).toBe('ECONNREFUSED');
      }

      // sessions: a wrong password, then the right one; the cookie is HttpOnly and SameSite, not Secure over http
      expect(
        (await call('POST /api/login', '/api/login', { json: { password: SECRETS.wrongToken } })).status,
      ).toBe(401);
      const login = await call('POST /api/login', '/api/login', {
        json: { password: SECRETS.adminPassword },
      });
      expect(login.status).toBe(200);
      const setCookie = login.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/HttpOnly/i);
      expect(setCookie).toMatch(/SameSite=(Lax|Strict)/i);
      expect(setCookie).not.toMatch(/Secure/i);
      // as the browser sends them: the cookie, the CSRF token and the page's origin
      const session = {
        cookie: setCookie.split(';')[0],
        'x-csrf-token': login.body.csrfToken as string,
        origin: serve.url,
      };
      const bearer = { authorization: `Bearer ${SECRETS.apiToken}` };
      expect(
        (
          await call('GET /api/pipelines', '/api/pipelines', {
            headers: { authorization: `Bearer ${SECRETS.wrongToken}xxxxxxxxxxxxxxxx` },
          })
        ).status,
      ).toBe(401);

      // pipelines through the API: the token and the PostgreSQL password go in, and must not come out
      const body = {
        name: 'api sweep',
        token: SECRETS.harvestToken,
        accountId: sim.accountId,
        baseUrl: sim.url,
        destination: pgUrl(SCHEMAS.apiDest),
        objects: ['clients', 'projects', 'users'],
        // paused, so the scheduler starts no run of its own: the runs below are the manual ones
        enabled: false,
      };
      const connection = {
        token: body.token,
        accountId: body.accountId,
        baseUrl: body.baseUrl,
        objects: body.objects,
      };
      for (const [who, headers] of [
        ['session', session],
        ['token', bearer],
      ] as const) {
        expect(
          (await call('POST /api/connection-test', '/api/connection-test', { json: connection, headers }))
            .body.ok,
          who,
        ).toBe(true);
        const wrong = await call('POST /api/connection-test', '/api/connection-test', {
          json: { ...connection, token: SECRETS.wrongToken },
          headers,
        });
        expect(wrong.body.ok).toBe(false);
        expect(
          (
            await call('POST /api/destination-test', '/api/destination-test', {
              json: { destination: body.destination },
              headers,
            })
          ).body.ok,
        ).toBe(true);
        const unreachable = await call('POST /api/destination-test', '/api/destination-test', {
          json: { destination: pgUrl(SCHEMAS.apiDest, 1) },
          headers,
        });
        expect(unreachable.body.ok).toBe(false);
      }
      const created = await call('POST /api/pipelines', '/api/pipelines', { json: body, headers: session });
      expect(created.status).toBe(201);
      const id = created.body.pipeline.id as number;
      const doomed = await call('POST /api/pipelines', '/api/pipelines', {
        json: { ...body, name: 'to delete', destination: 'sqlite:doomed.db' },
        headers: bearer,
      });
      expect(doomed.status).toBe(201);
      expect(
        (
          await call('PATCH /api/pipelines/:ref', `/api/pipelines/${id}`, {
            json: { token: SECRETS.harvestToken, frequencyHours: 3 },
            headers: session,
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await call('PATCH /api/pipelines/:ref', `/api/pipelines/${id}`, {
            json: { token: SECRETS.wrongToken.replace(/-/g, '_') + '<' },
            headers: bearer,
          })
        ).status,
      ).toBe(400);
      await call('POST /api/pipelines/:ref/pause', `/api/pipelines/${id}/pause`, { headers: session });
      const started = await call('POST /api/pipelines/:ref/run', `/api/pipelines/${id}/run`, {
        headers: session,
      });
      const runId = started.body.run?.id as number | undefined;
      expect(started.status, started.text).toBe(202);
      let run: Reply | null = null;
      for (let i = 0; i < 300 && runId !== undefined; i++) {
        run = await call('GET /api/runs/:id', `/api/runs/${runId}`, { headers: bearer });
        if (run.body.run.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(run?.body.run.status).toBe('succeeded');
      // a run whose token Harvest revokes mid-way fails with a message, not the token
      sim.setFaults({ revokeAfterPages: 1 });
      const failing = await call(
        'POST /api/pipelines/:ref/run',
        `/api/pipelines/${doomed.body.pipeline.id}/run`,
        { headers: bearer },
      );
      for (let i = 0; i < 300; i++) {
        const r = await call('GET /api/runs/:id', `/api/runs/${failing.body.run.id}`, { headers: bearer });
        if (r.body.run.status !== 'running') {
          expect(r.body.run.status).toBe('failed');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      sim.setFaults(null);
      await call('POST /api/pipelines/:ref/resume', `/api/pipelines/${id}/resume`, { headers: bearer });

      // API tokens: a read one for Prometheus made with the session, an admin one made with the token;
      // each shown once, then used, then revoked
      const tokens: Record<string, string> = {};
      for (const [name, scope, headers] of [
        ['prometheus', 'read', session],
        ['ci', 'admin', bearer],
      ] as const) {
        const made = await call('POST /api/tokens', '/api/tokens', { json: { name, scope }, headers });
        expect(made.status).toBe(201);
        tokens[name] = made.body.secret as string;
        shownOnce.push({ name: `${scope} API token`, secret: tokens[name] });
      }
      const readToken = { authorization: `Bearer ${tokens.prometheus}` };
      expect((await call('GET /metrics', '/metrics', { headers: readToken })).status).toBe(200);
      expect(
        (await call('GET /api/pipelines/:ref', `/api/pipelines/${id}`, { headers: readToken })).status,
      ).toBe(200);
      const refused = await call('PATCH /api/pipelines/:ref', `/api/pipelines/${id}`, {
        json: { token: SECRETS.harvestToken, baseUrl: sim.url },
        headers: readToken,
      });
      expect(refused.status).toBe(403);
      expect(
        (
          await call('GET /api/pipelines', '/api/pipelines', {
            headers: { authorization: `Bearer ${tokens.ci}` },
          })
        ).status,
      ).toBe(200);
      // the allow-list: moving the pipeline to an origin not on it is refused, token or not
      const elsewhere = await call('PATCH /api/pipelines/:ref', `/api/pipelines/${id}`, {
        json: { token: SECRETS.harvestToken, baseUrl: 'https://harvest-proxy.example' },
        headers: bearer,
      });
      expect(elsewhere.status).toBe(400);
      expect(elsewhere.body.error.fields.baseUrl).toMatch(/not an allowed Harvest API URL/);

      // every GET route, with the session and with the API token; pages and scripts with the session
      const gets: Array<[string, string]> = [
        ['GET /api/health', '/api/health'],
        ['GET /api/session', '/api/session'],
        ['GET /api/pipelines', '/api/pipelines'],
        ['GET /api/pipelines/:ref', `/api/pipelines/${id}`],
        ['GET /api/pipelines/:ref/runs', `/api/pipelines/${id}/runs`],
        ['GET /api/runs/:id', `/api/runs/${runId}`],
        ['GET /api/catalog', '/api/catalog'],
        ['GET /api/pipelines/:ref/destination', `/api/pipelines/${id}/destination`],
        ['GET /api/tokens', '/api/tokens'],
        ['GET /metrics', '/metrics'],
      ];
      for (const [route, path] of gets) {
        for (const headers of [session, bearer])
          expect((await call(route, path, { headers })).status, path).toBeLessThan(400);
        expect((await call(route, path)).status, `${path} without credentials`).toBe(
          route === 'GET /api/health' ? 200 : 401,
        );
      }
      const pages: Array<[string, string]> = [
        ['GET /', '/'],
        ['GET /login', '/login'],
        ['GET /pipelines/new', '/pipelines/new'],
        ['GET /tokens', '/tokens'],
        ['GET /pipelines/:id{[0-9]{1,15}}', `/pipelines/${id}`],
        ['GET /runs/:id{[0-9]{1,15}}', `/runs/${runId}`],
        ['GET /assets/app.css', '/assets/app.css'],
        ['GET /assets/icon.svg', '/assets/icon.svg'],
        ['GET /favicon.ico', '/favicon.ico'],
      ];
      for (const [route, path] of pages) await call(route, path, { headers: { cookie: session.cookie } });
      const scripts = readdirSync(new URL('../../dist/web/client/', import.meta.url)).filter((f) =>
        f.endsWith('.js'),
      );
      expect(scripts.length).toBeGreaterThan(5);
      for (const file of scripts)
        expect((await call('GET /assets/js/:file', `/assets/js/${file}`)).status).toBe(200);

      expect(
        (
          await call('DELETE /api/pipelines/:ref', `/api/pipelines/${doomed.body.pipeline.id}`, {
            headers: session,
          })
        ).status,
      ).toBe(200);
      const listed = (await call('GET /api/tokens', '/api/tokens', { headers: bearer })).body
        .tokens as Array<{
        id: string;
        name: string;
      }>;
      for (const name of ['prometheus', 'ci']) {
        const tokenId = listed.find((t) => t.name === name)!.id;
        expect(
          (await call('DELETE /api/tokens/:id', `/api/tokens/${tokenId}`, { headers: session })).status,
        ).toBe(200);
      }
      expect((await call('GET /metrics', '/metrics', { headers: readToken })).status).toBe(401);
      expect((await call('POST /api/logout', '/api/logout', { headers: session })).status).toBe(200);
      // a wrong current password, then a real change (the new password is a secret too)
      const newPassword = `${SECRETS.adminPassword}-new`;
      expect(
        (
          await call('POST /api/password', '/api/password', {
            json: { currentPassword: SECRETS.wrongToken, newPassword },
            headers: bearer,
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await call('POST /api/password', '/api/password', {
            json: { currentPassword: SECRETS.adminPassword, newPassword },
            headers: bearer,
          })
        ).status,
      ).toBe(200);

      // the sweep above called every route the app has
      const missed = (await registeredRoutes()).filter((r) => !called.has(r));
      expect(missed).toEqual([]);
    } finally {
      await serve.stop();
    }

    // the password is stored as a salted scrypt hash with its parameters, the file owner-only
    const credentials = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as {
      adminPassword: Record<string, unknown>;
    };
    expect(credentials.adminPassword).toMatchObject({ algorithm: 'scrypt', r: 8, p: 1 });
    expect(credentials.adminPassword.N).toBeGreaterThanOrEqual(2 ** 14);
    expect(String(credentials.adminPassword.salt).length).toBeGreaterThanOrEqual(16);
    expect(String(credentials.adminPassword.hash).length).toBeGreaterThanOrEqual(43);
    expect(statSync(join(dataDir, 'credentials.json')).mode & 0o077).toBe(0);

    // --secure-cookie: Secure even over plain http (a TLS proxy in front)
    const secure = await startServe(
      'secure cookie',
      ['--data-dir', join(root, 'secure-data'), '--secure-cookie'],
      {
        HARVEST_SYNC_ADMIN_PASSWORD: SECRETS.adminPassword,
      },
    );
    try {
      const res = await fetch(`${secure.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: SECRETS.adminPassword }),
      });
      const cookie = res.headers.get('set-cookie') ?? '';
      keep('secure login headers', cookie);
      expect(cookie).toMatch(/;\s*Secure/i);
      expect(cookie).toMatch(/HttpOnly/i);
    } finally {
      await secure.stop();
    }
  }, 120_000);
});

/** Every file under `dir`, as text. */
function filesUnder(dir: string): Array<{ where: string; text: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile())
    .map((p) => ({ where: p, text: readFileSync(p).toString('latin1') + readFileSync(p).toString('utf8') }));
}

describe('the sweep', () => {
  it('finds no secret, in clear or encoded, in anything collected or left behind', async () => {
    const leftBehind = filesUnder(root);
    // the control and destination schemas in PostgreSQL, as pg_dump writes them
    const dump = await promisify(execFile)(
      'pg_dump',
      ['--no-owner', ...Object.values(SCHEMAS).flatMap((s) => ['-n', s]), PG_BASE],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    const everything = [...seen, ...leftBehind, { where: 'pg_dump', text: dump.stdout }];
    // what the sweep read: both destinations and the control schema really hold data
    expect(dump.stdout).toContain(`${SCHEMAS.control}.pipelines`);
    expect(dump.stdout).toContain(`${SCHEMAS.cliDest}.clients`);
    expect(dump.stdout).toContain(`${SCHEMAS.apiDest}.clients`);
    expect(leftBehind.some((f) => f.where.endsWith('control.db'))).toBe(true);
    expect(leftBehind.some((f) => f.where.endsWith('run.db'))).toBe(true);
    expect(seen.length).toBeGreaterThan(60);

    const leaks: string[] = [];
    const sweep = (name: string, secret: string, shownIn?: (typeof everything)[number]) => {
      const forms = encodings(secret);
      for (const entry of everything) {
        const form = forms.find((f) => entry.text.includes(f));
        if (form !== undefined && entry !== shownIn)
          leaks.push(`${name} in ${entry.where}${form === secret ? '' : ` (encoded: ${form})`}`);
      }
    };
    for (const [name, secret] of Object.entries({ ...SECRETS, newPassword: `${SECRETS.adminPassword}-new` }))
      sweep(name, secret);
    // a created API token is shown once, in the answer to its creation, and nowhere else
    expect(shownOnce).toHaveLength(2);
    for (const { name, secret } of shownOnce) {
      const creations = everything.filter(
        (e) => e.where.startsWith('POST /api/tokens 201 body') && e.text.includes(secret),
      );
      expect(creations, name).toHaveLength(1);
      sweep(name, secret, creations[0]);
    }
    expect(leaks).toEqual([]);
    console.info(
      `secrets sweep: ${everything.length} outputs and files (${(everything.reduce((n, e) => n + e.text.length, 0) / 1e6).toFixed(1)} MB), ${Object.keys(SECRETS).length + 1} secrets and ${shownOnce.length} API tokens shown once × their encodings`,
    );
  });
});
