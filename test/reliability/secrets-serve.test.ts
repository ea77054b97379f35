import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { pipelineDestinations } from '../../src/control/destination-scope.js';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import { createApp } from '../../src/server/app.js';
import { Auth, memoryCredentialStore } from '../../src/server/auth.js';
import { createLogger } from '../../src/server/logger.js';
import { createMetrics } from '../../src/server/metrics.js';
import { createWebUi } from '../../src/web/ui.js';
import { CLI, STACK_LINE } from '../cli/cli-helpers.js';
import { runState } from '../support/waiting.js';
import { cleanEnv } from './support/cli-process.js';
import { SecretSweep } from './support/secret-sweep.js';

/*
 * Secrets through a real `serve` at debug level (PostgreSQL control store): every API route with a
 * session and with the API token, the HTML and JS, /metrics, and error paths (wrong token, token
 * revoked mid-run, unreachable destination). test/server/app.test.ts greps its own in-process
 * responses; this goes end to end. The last test sweeps every answer, log line, file left behind and
 * pg_dump of the schemas used (support/secret-sweep.ts).
 */

const sweep = new SecretSweep(['apiDest', 'control'] as const);
const { secrets } = sweep;

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
  let stopped = false;
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
      if (stopped) return;
      stopped = true;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      sweep.keep(`serve ${name} output`, output);
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
  const dataDir = mkdtempSync(join(sweep.root, 'routes-'));
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

let serve: Serve;
const dataDir = () => join(sweep.root, 'serve-data');
/** Routes called, to check that the sweep reached every one the app has. */
const called = new Set<string>();

async function call(
  route: string,
  path: string,
  options: { json?: unknown; headers?: Record<string, string>; method?: string } = {},
): Promise<Reply> {
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
  sweep.keep(`${method} ${path} ${res.status} headers`, headers.join('\n'));
  sweep.keep(`${method} ${path} ${res.status} body`, text);
  expect(text, `${method} ${path}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, text, body };
}

beforeAll(async () => {
  await sweep.start();
  serve = await startServe(
    'postgres control',
    ['--data-dir', dataDir(), '--control-store', sweep.pgUrl('control'), '--allow-base-url', sweep.sim.url],
    { HARVEST_SYNC_ADMIN_PASSWORD: secrets.adminPassword, HARVEST_SYNC_API_TOKEN: secrets.apiToken },
  );
}, 60_000);

afterAll(async () => {
  await serve?.stop();
  await sweep.stop();
});

/** As the browser sends them after login: the cookie, the CSRF token and the page's origin. */
let session: Record<string, string>;
const bearer = () => ({ authorization: `Bearer ${secrets.apiToken}` });
/** The pipeline the sweep runs, one that is deleted, and its successful run. */
const ids = { pipeline: 0, doomed: 0, run: 0 };
/** Read and admin API tokens made during the sweep. */
const tokens: Record<string, string> = {};

describe('serve never shows a secret', () => {
  it('listens on loopback only', async () => {
    expect(new URL(serve.url).hostname).toBe('127.0.0.1');
    const port = Number(new URL(serve.url).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    if (!external) return;
    const refused = await new Promise<string>((resolve) => {
      const socket = connect({ host: external.address, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('refuses a wrong password and a wrong API token; its cookie is HttpOnly and SameSite, not Secure over http', async () => {
    expect(
      (await call('POST /api/login', '/api/login', { json: { password: secrets.wrongToken } })).status,
    ).toBe(401);
    const login = await call('POST /api/login', '/api/login', { json: { password: secrets.adminPassword } });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=(Lax|Strict)/i);
    expect(setCookie).not.toMatch(/Secure/i);
    session = {
      cookie: setCookie.split(';')[0],
      'x-csrf-token': login.body.csrfToken as string,
      origin: serve.url,
    };
    const wrongBearer = { authorization: `Bearer ${secrets.wrongToken}xxxxxxxxxxxxxxxx` };
    expect((await call('GET /api/pipelines', '/api/pipelines', { headers: wrongBearer })).status).toBe(401);
  });

  const pipelineBody = () => ({
    name: 'api sweep',
    token: secrets.harvestToken,
    accountId: sweep.sim.accountId,
    baseUrl: sweep.sim.url,
    destination: sweep.pgUrl('apiDest'),
    objects: ['clients', 'projects', 'users'],
    // paused, so the scheduler starts no run of its own: the runs below are the manual ones
    enabled: false,
  });

  it('tests connections and destinations, right and wrong, with the session and with the API token', async () => {
    const body = pipelineBody();
    const connection = {
      token: body.token,
      accountId: body.accountId,
      baseUrl: body.baseUrl,
      objects: body.objects,
    };
    for (const [who, headers] of [
      ['session', session],
      ['token', bearer()],
    ] as const) {
      const right = await call('POST /api/connection-test', '/api/connection-test', {
        json: connection,
        headers,
      });
      expect(right.body.ok, who).toBe(true);
      const wrong = await call('POST /api/connection-test', '/api/connection-test', {
        json: { ...connection, token: secrets.wrongToken },
        headers,
      });
      expect(wrong.body.ok).toBe(false);
      const destination = { destination: body.destination };
      expect(
        (await call('POST /api/destination-test', '/api/destination-test', { json: destination, headers }))
          .body.ok,
      ).toBe(true);
      const unreachable = await call('POST /api/destination-test', '/api/destination-test', {
        json: { destination: sweep.pgUrl('apiDest', 1) },
        headers,
      });
      expect(unreachable.body.ok).toBe(false);
    }
  });

  it('creates and changes pipelines (a bad token refused) and runs them: one succeeds, one Harvest revokes fails', async () => {
    const body = pipelineBody();
    const created = await call('POST /api/pipelines', '/api/pipelines', { json: body, headers: session });
    expect(created.status).toBe(201);
    ids.pipeline = created.body.pipeline.id as number;
    const doomed = await call('POST /api/pipelines', '/api/pipelines', {
      json: { ...body, name: 'to delete', destination: 'sqlite:doomed.db' },
      headers: bearer(),
    });
    expect(doomed.status).toBe(201);
    ids.doomed = doomed.body.pipeline.id as number;
    const path = `/api/pipelines/${ids.pipeline}`;
    const change = (json: unknown, headers: Record<string, string>) =>
      call('PATCH /api/pipelines/:ref', path, { json, headers });
    expect((await change({ token: secrets.harvestToken, frequencyHours: 3 }, session)).status).toBe(200);
    expect((await change({ token: secrets.wrongToken.replace(/-/g, '_') + '<' }, bearer())).status).toBe(400);
    await call('POST /api/pipelines/:ref/pause', `${path}/pause`, { headers: session });

    const started = await call('POST /api/pipelines/:ref/run', `${path}/run`, { headers: session });
    expect(started.status, started.text).toBe(202);
    ids.run = started.body.run.id as number;
    // awaited on its event stream; the stream of an ended run is swept with the other GETs below
    const readRun = (id: number) => ({ url: serve.url, runId: id, headers: bearer() });
    expect((await runState(readRun(ids.run))).status).toBe('succeeded');
    // a run whose token Harvest revokes mid-way fails with a message, not the token
    sweep.sim.setFaults({ revokeAfterPages: 1 });
    const failing = await call('POST /api/pipelines/:ref/run', `/api/pipelines/${ids.doomed}/run`, {
      headers: bearer(),
    });
    expect((await runState(readRun(failing.body.run.id as number))).status).toBe('failed');
    sweep.sim.setFaults(null);
    await call('POST /api/pipelines/:ref/resume', `${path}/resume`, { headers: bearer() });
  }, 90_000);

  it('shows a new API token once; a read token reads and may not change; the allow-list holds', async () => {
    for (const [name, scope, headers] of [
      ['prometheus', 'read', session],
      ['ci', 'admin', bearer()],
    ] as const) {
      const made = await call('POST /api/tokens', '/api/tokens', { json: { name, scope }, headers });
      expect(made.status).toBe(201);
      tokens[name] = made.body.secret as string;
      sweep.shownOnce.push({ name: `${scope} API token`, secret: tokens[name] });
    }
    const readToken = { authorization: `Bearer ${tokens.prometheus}` };
    const path = `/api/pipelines/${ids.pipeline}`;
    expect((await call('GET /metrics', '/metrics', { headers: readToken })).status).toBe(200);
    expect((await call('GET /api/pipelines/:ref', path, { headers: readToken })).status).toBe(200);
    const refused = await call('PATCH /api/pipelines/:ref', path, {
      json: { token: secrets.harvestToken, baseUrl: sweep.sim.url },
      headers: readToken,
    });
    expect(refused.status).toBe(403);
    const ci = { authorization: `Bearer ${tokens.ci}` };
    expect((await call('GET /api/pipelines', '/api/pipelines', { headers: ci })).status).toBe(200);
    // moving the pipeline to an origin not on the allow-list is refused, token or not
    const elsewhere = await call('PATCH /api/pipelines/:ref', path, {
      json: { token: secrets.harvestToken, baseUrl: 'https://harvest-proxy.example' },
      headers: bearer(),
    });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.fields.baseUrl).toMatch(/not an allowed Harvest API URL/);
  });

  it('answers every GET route with the session and the API token (401 without), every page and script', async () => {
    const { pipeline: id, run: runId } = ids;
    const gets: Array<[string, string]> = [
      ['GET /api/health', '/api/health'],
      ['GET /api/session', '/api/session'],
      ['GET /api/pipelines', '/api/pipelines'],
      ['GET /api/pipelines/:ref', `/api/pipelines/${id}`],
      ['GET /api/pipelines/:ref/runs', `/api/pipelines/${id}/runs`],
      ['GET /api/runs/:id', `/api/runs/${runId}`],
      // the run has ended: its stream sends its state and end, then closes
      ['GET /api/runs/:id/events', `/api/runs/${runId}/events`],
      ['GET /api/catalog', '/api/catalog'],
      ['GET /api/pipelines/:ref/destination', `/api/pipelines/${id}/destination`],
      ['GET /api/tokens', '/api/tokens'],
      ['GET /api/workers', '/api/workers'],
      ['GET /metrics', '/metrics'],
    ];
    for (const [route, path] of gets) {
      for (const headers of [session, bearer()])
        expect((await call(route, path, { headers })).status, path).toBeLessThan(400);
      expect((await call(route, path)).status, `${path} without credentials`).toBe(
        route === 'GET /api/health' ? 200 : 401,
      );
    }
    // the stream of every run stays open: its headers are checked, then it is left
    for (const headers of [session, bearer()]) {
      const stream = await fetch(`${serve.url}/api/events`, { headers });
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await stream.body?.cancel();
    }
    expect((await call('GET /api/events', '/api/events')).status).toBe(401);
    const pages: Array<[string, string]> = [
      ['GET /', '/'],
      ['GET /login', '/login'],
      ['GET /pipelines/new', '/pipelines/new'],
      ['GET /tokens', '/tokens'],
      ['GET /workers', '/workers'],
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
  });

  it('deletes a pipeline, revokes the API tokens, logs out and changes the admin password', async () => {
    const doomed = `/api/pipelines/${ids.doomed}`;
    expect((await call('DELETE /api/pipelines/:ref', doomed, { headers: session })).status).toBe(200);
    const listed = (await call('GET /api/tokens', '/api/tokens', { headers: bearer() })).body
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
    const readToken = { authorization: `Bearer ${tokens.prometheus}` };
    expect((await call('GET /metrics', '/metrics', { headers: readToken })).status).toBe(401);
    expect((await call('POST /api/logout', '/api/logout', { headers: session })).status).toBe(200);
    // a wrong current password, then a real change (the new password is a secret too)
    const newPassword = `${secrets.adminPassword}-new`;
    sweep.more.newPassword = newPassword;
    const change = (currentPassword: string) =>
      call('POST /api/password', '/api/password', {
        json: { currentPassword, newPassword },
        headers: bearer(),
      });
    expect((await change(secrets.wrongToken)).status).toBe(403);
    expect((await change(secrets.adminPassword)).status).toBe(200);
  });

  it('has been asked on every route the app mounts', async () => {
    expect((await registeredRoutes()).filter((r) => !called.has(r))).toEqual([]);
  });

  it('stores the admin password as a salted scrypt hash with its parameters, in an owner-only file', () => {
    const file = join(dataDir(), 'credentials.json');
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as { adminPassword: Record<string, unknown> };
    expect(credentials.adminPassword).toMatchObject({ algorithm: 'scrypt', r: 8, p: 1 });
    expect(credentials.adminPassword.N).toBeGreaterThanOrEqual(2 ** 14);
    expect(String(credentials.adminPassword.salt).length).toBeGreaterThanOrEqual(16);
    expect(String(credentials.adminPassword.hash).length).toBeGreaterThanOrEqual(43);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('marks the session cookie Secure even over http with --secure-cookie (a TLS proxy in front)', async () => {
    const secure = await startServe(
      'secure cookie',
      ['--data-dir', join(sweep.root, 'secure-data'), '--secure-cookie'],
      {
        HARVEST_SYNC_ADMIN_PASSWORD: secrets.adminPassword,
      },
    );
    try {
      const res = await fetch(`${secure.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: secrets.adminPassword }),
      });
      const cookie = res.headers.get('set-cookie') ?? '';
      sweep.keep('secure login headers', cookie);
      expect(cookie).toMatch(/;\s*Secure/i);
      expect(cookie).toMatch(/HttpOnly/i);
    } finally {
      await secure.stop();
    }
  }, 60_000);

  it('leaves no secret, in clear or encoded, in any answer, log line, file or pg_dump', async () => {
    await serve.stop();
    const { everything, leftBehind, dump } = await sweep.everything();
    // what the sweep read: the control schema and the destination really hold data
    expect(dump).toContain(`${sweep.schemas.control}.pipelines`);
    expect(dump).toContain(`${sweep.schemas.apiDest}.clients`);
    expect(leftBehind.some((f) => f.where.endsWith('credentials.json'))).toBe(true);
    expect(sweep.seen.length).toBeGreaterThan(60);
    expect(sweep.shownOnce).toHaveLength(2);
    expect(sweep.leaks(everything)).toEqual([]);
    console.info(sweep.summary(everything));
  });
});
