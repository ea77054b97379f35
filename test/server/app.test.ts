import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { testConnection } from '../../src/control/connection-test.js';
import { runPipeline } from '../../src/control/pipeline-runner.js';
import { pipelineDestinations } from '../../src/control/destination-scope.js';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import type { ControlStore } from '../../src/control/types.js';
import { createApp } from '../../src/server/app.js';
import type { AppScheduler } from '../../src/server/app.js';
import { Auth, memoryCredentialStore } from '../../src/server/auth.js';
import { testDestination } from '../../src/server/destination-test.js';
import { createLogger } from '../../src/server/logger.js';
import { setSessionCookie } from '../../src/server/middleware.js';
import type { AppEnv } from '../../src/server/middleware.js';
import { createMetrics } from '../../src/server/metrics.js';
import type { ConnectionTestInput } from '../../src/server/pipeline-routes.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { databaseUrl, dropDatabase, uniqueDatabase } from '../destinations/mysql-support.js';
import { PG_URL } from '../support/databases.js';
import { TestClock } from '../support/clock.js';

const PASSWORD = 'admin password for tests ✓';
const HARVEST_TOKEN = '2345678.pt.HarvestTokenSecretValue_zz9Q';
const PG_PASSWORD = 'pgSecretPw42';

/** Every response body and header of the whole file, and every log line: checked for secrets at the end. */
const transcript: string[] = [];
let apiToken = '';

interface Harness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: ControlStore;
  readonly auth: Auth;
  readonly clock: TestClock;
  readonly metrics: ReturnType<typeof createMetrics>;
  readonly dataDir: string;
  readonly connectionTests: ConnectionTestInput[];
}

async function makeHarness(): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-app-'));
  const clock = new TestClock({ start: Date.UTC(2026, 5, 1, 12), sleeps: 'ignore' });
  const store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)), clock });
  const auth = new Auth({ credentials: memoryCredentialStore(), clock });
  await auth.setAdminPassword(PASSWORD);
  apiToken = auth.rotateApiToken();
  const metrics = createMetrics({ defaultMetrics: false });
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      transcript.push(chunk.toString());
      done();
    },
  });
  const connectionTests: ConnectionTestInput[] = [];
  // The scheduler seam: a manual run is only recorded here; runs that really sync are in serve.e2e.test.ts.
  const scheduler: AppScheduler = {
    isRunning: () => true,
    runNow: (pipelineId) =>
      store.startRun({
        pipelineId,
        trigger: 'manual',
        fullRefresh: false,
        startedAt: new Date(clock.now()).toISOString(),
      }),
    nextRunAt: (pipeline) =>
      new Date(Date.parse(pipeline.createdAt) + pipeline.frequencyHours * 3600_000).toISOString(),
  };
  const app = createApp({
    store,
    scheduler,
    auth,
    metrics,
    clock,
    logger: createLogger({ level: 'debug', destination: logStream }),
    version: '0.1.0-test',
    clientKey: (c) => c.req.header('x-test-client') ?? 'default-client',
    testConnection: (input) => {
      connectionTests.push(input);
      return testConnection(input);
    },
    testDestination: (url) => testDestination(url, pipelineDestinations(dataDir)),
    destinations: pipelineDestinations(dataDir),
    // the simulator stands for Harvest here; the Secure-cookie test comes as https://harvest-sync.example
    baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }),
    allowedHosts: ['localhost', 'harvest-sync.example'],
  });
  return { app, store, auth, clock, metrics, dataDir, connectionTests };
}

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are inspected freely in tests
  readonly body: any;
}

interface CallOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  readonly origin?: string;
}

async function call(h: Harness, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  } else if (options.raw !== undefined) body = options.raw;
  const res = await h.app.request(`${options.origin ?? 'http://localhost'}${path}`, {
    method: options.method ?? 'GET',
    headers,
    body,
  });
  const text = await res.text();
  const headerText: string[] = [];
  res.headers.forEach((value, name) => headerText.push(`${name}: ${value}`));
  transcript.push(headerText.join('\n'), text);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

const bearer = () => ({ authorization: `Bearer ${apiToken}` });

interface RunSummaryBody {
  readonly totals: { inserted: number; updated: number; unchanged: number | null };
}

async function login(
  h: Harness,
  origin = 'http://localhost',
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await call(h, '/api/login', { method: 'POST', json: { password: PASSWORD }, origin });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0];
  return { cookie, csrf: res.body.csrfToken as string, setCookie };
}

function validPipeline(overrides: Record<string, unknown> = {}) {
  return {
    name: 'main account',
    token: HARVEST_TOKEN,
    accountId: '123456',
    destination: 'sqlite:harvest.db',
    objects: ['clients', 'projects'],
    frequencyHours: 6,
    ...overrides,
  };
}

let sim: Simulator;
beforeAll(async () => {
  // running timers frozen: their hours move every 36 s, and the counts tests expect none to change
  sim = await startSimulator({ scale: 0.01, adminToken: HARVEST_TOKEN, rateLimit: null, timersGrow: false });
});
afterAll(() => sim.stop());

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.store.close();
  rmSync(h.dataDir, { recursive: true, force: true });
});

describe('authentication on every route', () => {
  const PUBLIC = new Set(['GET /api/health', 'POST /api/login']);

  function registeredRoutes(app: Harness['app']): Array<{ method: string; path: string }> {
    const seen = new Map<string, { method: string; path: string }>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue; // middleware
      const path = route.path.replace(/:[A-Za-z_]+/g, '1');
      seen.set(`${route.method} ${path}`, { method: route.method, path });
    }
    return [...seen.values()];
  }

  it('answers 401 JSON on every registered route without credentials, except health and login', async () => {
    await h.store.createPipeline({
      ...validPipeline(),
      since: null,
      fullRefreshHours: 24,
      baseUrl: 'https://api.harvestapp.com',
      enabled: true,
    });
    const routes = registeredRoutes(h.app);
    // the list is the app's own: a route added later is checked without editing this test
    expect(routes.length).toBeGreaterThanOrEqual(18);
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const res = await call(h, route.path, {
        method: route.method,
        json: route.method === 'GET' ? undefined : {},
      });
      if (PUBLIC.has(key)) {
        expect(res.status, key).not.toBe(401);
        continue;
      }
      if (route.path.startsWith('/api/') || route.path === '/metrics') {
        expect(res.status, key).toBe(401);
        expect(res.headers.get('content-type'), key).toMatch(/^application\/json/);
        expect(res.body.error.message, key).toMatch(/authentication required/);
      } else {
        // pages of the UI: refused, or sent to the login page
        expect([401, 302, 303], key).toContain(res.status);
        if (res.status !== 401) expect(res.headers.get('location'), key).toMatch(/login/);
      }
    }
    expect(await h.store.listPipelines()).toHaveLength(1);
  });

  it('refuses a wrong or malformed bearer token without falling back to the cookie', async () => {
    const { cookie } = await login(h);
    const wrong = await call(h, '/api/pipelines', {
      headers: { authorization: 'Bearer nottherighttoken', cookie },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe('invalid API token');
    const malformed = await call(h, '/api/pipelines', { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/Bearer/);
  });

  it('serves health without credentials and everything with the API token', async () => {
    const health = await call(h, '/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', version: '0.1.0-test', scheduler: { running: true } });
    const list = await call(h, '/api/pipelines', { headers: bearer() });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ pipelines: [] });
  });

  it('sends security headers and no-store on API answers', async () => {
    const res = await call(h, '/api/health');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('sessions', () => {
  it('sets an HttpOnly, SameSite, path-wide cookie, without Secure over plain http', async () => {
    const { setCookie } = await login(h);
    expect(setCookie).toMatch(/^hs_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Lax/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/; Secure/);
  });

  it('marks the cookie Secure over plain http when told it sits behind TLS (--secure-cookie)', async () => {
    const auth = new Auth({ credentials: memoryCredentialStore(), secureCookie: true });
    await auth.setAdminPassword(PASSWORD);
    const result = await auth.login(PASSWORD, 'ip');
    if (!result.ok) throw new Error('login failed');
    const app = new Hono<AppEnv>();
    app.get('/', (c) => {
      setSessionCookie(c, auth, result.sessionId, result.session);
      return c.body(null, 204);
    });
    const res = await app.request('http://localhost/');
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('marks the cookie Secure when served over https', async () => {
    const { setCookie } = await login(h, 'https://harvest-sync.example');
    expect(setCookie).toMatch(/; Secure/);
  });

  it('lets a logged-in browser read, then ends the session on logout', async () => {
    const { cookie, csrf } = await login(h);
    expect((await call(h, '/api/pipelines', { headers: { cookie } })).status).toBe(200);
    const session = await call(h, '/api/session', { headers: { cookie } });
    expect(session.body).toMatchObject({ authenticated: true, kind: 'session', csrfToken: csrf });
    const out = await call(h, '/api/logout', {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, origin: 'http://localhost' },
    });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/hs_session=;.*Max-Age=0/);
    expect((await call(h, '/api/pipelines', { headers: { cookie } })).status).toBe(401);
  });

  it('expires an idle session', async () => {
    const { cookie } = await login(h);
    h.clock.advance(2 * 3600_000);
    expect((await call(h, '/api/pipelines', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a wrong password with 401 and makes an address wait after 5 failures', async () => {
    const attempt = (password: string, client: string) =>
      call(h, '/api/login', { method: 'POST', json: { password }, headers: { 'x-test-client': client } });
    for (let i = 0; i < 5; i++) {
      const res = await attempt(`wrong password ${i}`, 'attacker');
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('wrong password');
    }
    const limited = await attempt(PASSWORD, 'attacker');
    expect(limited.status).toBe(429);
    expect(limited.body.error.message).toMatch(/too many failed logins/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('set-cookie')).toBeNull();
    // another address is not locked out by the attacker
    expect((await attempt(PASSWORD, 'admin')).status).toBe(200);
    h.clock.advance(Number(limited.headers.get('retry-after')) * 1000);
    expect((await attempt(PASSWORD, 'attacker')).status).toBe(200);
  });

  it('changes the password, ending every session', async () => {
    const { cookie, csrf } = await login(h);
    const wrong = await call(h, '/api/password', {
      method: 'POST',
      json: { currentPassword: 'not it at all', newPassword: 'a brand new password' },
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(wrong.status).toBe(403);
    const weak = await call(h, '/api/password', {
      method: 'POST',
      json: { currentPassword: PASSWORD, newPassword: 'short' },
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.error.fields.newPassword).toMatch(/at least 12/);
    const ok = await call(h, '/api/password', {
      method: 'POST',
      json: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(ok.status).toBe(200);
    expect((await call(h, '/api/pipelines', { headers: { cookie } })).status).toBe(401);
    expect(
      (await call(h, '/api/login', { method: 'POST', json: { password: 'a brand new password' } })).status,
    ).toBe(200);
  });
});

describe('CSRF', () => {
  it('accepts the CSRF token from a same-origin form field, as server-rendered pages send it', async () => {
    const { cookie, csrf } = await login(h);
    const res = await call(h, '/api/logout', {
      method: 'POST',
      raw: `_csrf=${encodeURIComponent(csrf)}`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
    });
    expect(res.status).toBe(200);
    expect((await call(h, '/api/pipelines', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a cookie-authenticated POST without the CSRF token, and accepts it with the token', async () => {
    const { cookie, csrf } = await login(h);
    const without = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline(),
      headers: { cookie },
    });
    expect(without.status).toBe(403);
    expect(without.body.error.message).toMatch(/CSRF token/);
    const wrong = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline(),
      headers: { cookie, 'x-csrf-token': csrf + 'x' },
    });
    expect(wrong.status).toBe(403);
    expect(await h.store.listPipelines()).toHaveLength(0);
    const withToken = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline(),
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(withToken.status).toBe(201);
  });

  it('refuses a cross-origin form POST carrying the session cookie', async () => {
    const { cookie, csrf } = await login(h);
    const res = await call(h, '/api/pipelines/1/pause', {
      method: 'POST',
      raw: `_csrf=${csrf}`,
      headers: {
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.error.message).toMatch(/cross-origin/);
  });

  it('refuses a cross-origin login form', async () => {
    const res = await call(h, '/api/login', {
      method: 'POST',
      raw: `password=${encodeURIComponent(PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('does not ask bearer-token clients for a CSRF token', async () => {
    const res = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline(),
      headers: { ...bearer(), origin: 'https://ci.example' },
    });
    expect(res.status).toBe(201);
  });
});

describe('pipelines', () => {
  it('creates, reads by id and name, updates, pauses, resumes and deletes, never sending the token', async () => {
    const created = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline(),
      headers: bearer(),
    });
    expect(created.status).toBe(201);
    const p = created.body.pipeline;
    expect(p).toMatchObject({
      name: 'main account',
      token: '••••zz9Q',
      tokenLast4: 'zz9Q',
      accountId: '123456',
      destination: 'sqlite:harvest.db',
      objects: ['clients', 'projects'],
      frequencyHours: 6,
      enabled: true,
      status: 'new',
      lastRun: null,
    });
    expect(p.nextRunAt).toEqual(new Date(Date.parse(p.createdAt) + 6 * 3600_000).toISOString());

    const byName = await call(h, `/api/pipelines/${encodeURIComponent('main account')}`, {
      headers: bearer(),
    });
    expect(byName.body.pipeline.id).toBe(p.id);
    const updated = await call(h, `/api/pipelines/${p.id}`, {
      method: 'PATCH',
      json: { frequencyHours: 12, destination: `postgres://sync:${PG_PASSWORD}@db.internal:5432/warehouse` },
      headers: bearer(),
    });
    expect(updated.status).toBe(200);
    expect(updated.body.pipeline.frequencyHours).toBe(12);
    expect(updated.body.pipeline.destination).toBe('postgres://sync:***@db.internal:5432/warehouse');

    const paused = await call(h, `/api/pipelines/${p.id}/pause`, { method: 'POST', headers: bearer() });
    expect(paused.body.pipeline).toMatchObject({ enabled: false, status: 'paused', nextRunAt: null });
    const resumed = await call(h, `/api/pipelines/${p.id}/resume`, { method: 'POST', headers: bearer() });
    expect(resumed.body.pipeline).toMatchObject({ enabled: true, status: 'new' });

    const removed = await call(h, `/api/pipelines/${p.id}`, { method: 'DELETE', headers: bearer() });
    expect(removed.body).toEqual({ deleted: true, id: p.id });
    const gone = await call(h, `/api/pipelines/${p.id}`, { headers: bearer() });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toBe('no such pipeline');
  });

  it('refuses a duplicate name with 409', async () => {
    await call(h, '/api/pipelines', { method: 'POST', json: validPipeline(), headers: bearer() });
    const again = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline({ name: 'MAIN ACCOUNT' }),
      headers: bearer(),
    });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already exists/);
  });

  it('starts a run, lists runs with per-object stats, and refuses a second run or a delete meanwhile', async () => {
    const { pipeline } = (
      await call(h, '/api/pipelines', { method: 'POST', json: validPipeline(), headers: bearer() })
    ).body;
    const started = await call(h, `/api/pipelines/${pipeline.id}/run`, { method: 'POST', headers: bearer() });
    expect(started.status).toBe(202);
    expect(started.body.run).toMatchObject({ pipelineId: pipeline.id, status: 'running', trigger: 'manual' });
    const runId = started.body.run.id as number;
    await h.store.updateRunProgress(runId, [
      {
        object: 'clients',
        status: 'running',
        mode: 'full',
        read: 40,
        inserted: 40,
        updated: 0,
        unchanged: 0,
        deleted: 0,
        calls: 1,
        rateLimitWaits: 0,
        retries: 0,
        seconds: 0.5,
        reason: null,
      },
    ]);
    const live = await call(h, `/api/runs/${runId}`, { headers: bearer() });
    expect(live.body.run.objects).toEqual([
      expect.objectContaining({ object: 'clients', read: 40, status: 'running' }),
    ]);
    expect(live.body.run.totals.read).toBe(40);
    expect((await call(h, `/api/pipelines/${pipeline.id}`, { headers: bearer() })).body.pipeline.status).toBe(
      'running',
    );

    const second = await call(h, `/api/pipelines/${pipeline.id}/run`, { method: 'POST', headers: bearer() });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toMatch(/already running/);
    const del = await call(h, `/api/pipelines/${pipeline.id}`, { method: 'DELETE', headers: bearer() });
    expect(del.status).toBe(409);

    const runs = await call(h, `/api/pipelines/${pipeline.id}/runs?limit=5`, { headers: bearer() });
    expect(runs.body.runs.map((r: { id: number }) => r.id)).toEqual([runId]);
    expect((await call(h, '/api/runs/999999', { headers: bearer() })).status).toBe(404);
    expect((await call(h, '/api/runs/abc', { headers: bearer() })).status).toBe(404);
    expect((await call(h, `/api/pipelines/${pipeline.id}/runs?limit=-1`, { headers: bearer() })).status).toBe(
      400,
    );
  });

  it('lists the catalog for the object picker', async () => {
    const res = await call(h, '/api/catalog', { headers: bearer() });
    expect(res.body.objects.map((o: { name: string }) => o.name)).toContain('time_entries');
    // the wizard's default for the Harvest API URL comes from here: defined once, on the server
    expect(res.body.defaultBaseUrl).toBe('https://api.harvestapp.com');
    expect(res.body.objects.find((o: { name: string }) => o.name === 'invoices').childTables).toEqual([
      'invoice_line_items',
    ]);
  });
});

describe('bad input', () => {
  const refused: Array<[string, unknown, RegExp]> = [
    ['a number as name', validPipeline({ name: 42 }), /name/],
    ['an empty name', validPipeline({ name: '' }), /name/],
    ['a missing token', { ...validPipeline(), token: undefined }, /token is required/],
    ['a token with spaces', validPipeline({ token: 'abc def' }), /token/],
    ['an array as account id', validPipeline({ accountId: ['1'] }), /accountId/],
    ['SQL in the account id', validPipeline({ accountId: '1; DROP TABLE pipelines; --' }), /accountId/],
    ['full-width digits in the account id', validPipeline({ accountId: '１２３' }), /accountId/],
    ['a script as an object', validPipeline({ objects: ['<script>alert(1)</script>'] }), /unknown object/],
    ['SQL as frequency', validPipeline({ frequencyHours: '1 OR 1=1' }), /frequency/],
    ['a frequency of 0', validPipeline({ frequencyHours: 0 }), /frequency/],
    ['path traversal in the SQLite path', validPipeline({ destination: 'sqlite:../../etc/passwd' }), /\.\./],
    ['a javascript: base URL', validPipeline({ baseUrl: 'javascript:alert(1)' }), /baseUrl/],
    ['a name with a line break', validPipeline({ name: 'a\nb' }), /control characters/],
    ['an unknown field', { ...validPipeline(), isAdmin: true }, /isAdmin/],
    ['a JSON array as body', [validPipeline()], /./],
  ];

  for (const [what, body, message] of refused) {
    it(`refuses ${what} with 400 and a message, storing nothing`, async () => {
      const res = await call(h, '/api/pipelines', { method: 'POST', json: body, headers: bearer() });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(typeof res.body.error.message).toBe('string');
      expect(JSON.stringify(res.body.error)).toMatch(message);
      expect(res.text).not.toMatch(/\n\s+at /);
      expect(await h.store.listPipelines()).toHaveLength(0);
    });
  }

  it('refuses a 1 MB body with 413 JSON', async () => {
    const res = await call(h, '/api/pipelines', {
      method: 'POST',
      json: validPipeline({ name: 'x'.repeat(1024 * 1024) }),
      headers: bearer(),
    });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(/too large/);
    expect(await h.store.listPipelines()).toHaveLength(0);
  });

  it('refuses a 1 MB login password without hashing it', async () => {
    const res = await call(h, '/api/login', { method: 'POST', json: { password: 'p'.repeat(60_000) } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields.password).toBeDefined();
  });

  it('refuses a body that is not JSON, or not declared as JSON', async () => {
    const broken = await call(h, '/api/pipelines', {
      method: 'POST',
      raw: '{"name": ',
      headers: { ...bearer(), 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toMatch(/not valid JSON/);
    const text = await call(h, '/api/pipelines', {
      method: 'POST',
      raw: JSON.stringify(validPipeline()),
      headers: { ...bearer(), 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(await h.store.listPipelines()).toHaveLength(0);
  });

  it('refuses a bad update without changing the pipeline', async () => {
    const { pipeline } = (
      await call(h, '/api/pipelines', { method: 'POST', json: validPipeline(), headers: bearer() })
    ).body;
    const res = await call(h, `/api/pipelines/${pipeline.id}`, {
      method: 'PATCH',
      json: { frequencyHours: 25, destination: 'sqlite:../x.db' },
      headers: bearer(),
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields).sort()).toEqual(['destination', 'frequencyHours']);
    const after = await h.store.getPipeline(pipeline.id);
    expect(after).toMatchObject({ frequencyHours: 6, destination: 'sqlite:harvest.db' });
  });

  it('stores hostile but valid names verbatim and returns them as JSON data', async () => {
    const names = [
      "Robert'); DROP TABLE pipelines;--",
      '<img src=x onerror=alert(1)>',
      'Zürich 東京 🚀 ‮rtl',
    ];
    for (const name of names) {
      const res = await call(h, '/api/pipelines', {
        method: 'POST',
        json: validPipeline({ name }),
        headers: bearer(),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.pipeline.name).toBe(name);
    }
    expect((await h.store.listPipelines()).map((p) => p.name).sort()).toEqual([...names].sort());
  });

  it('answers an unknown path with 404 JSON', async () => {
    const res = await call(h, '/api/../../etc/passwd', { headers: bearer() });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/no route/);
  });
});

describe('connection and destination tests', () => {
  it('checks a token against Harvest (the simulator) without ever echoing it', async () => {
    const res = await call(h, '/api/connection-test', {
      method: 'POST',
      json: {
        token: HARVEST_TOKEN,
        accountId: sim.accountId,
        baseUrl: sim.url,
        objects: ['clients', 'users'],
      },
      headers: bearer(),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      admin: true,
      objects: [
        { name: 'clients', readable: true },
        { name: 'users', readable: true },
      ],
    });
    expect(h.connectionTests).toEqual([
      { token: HARVEST_TOKEN, accountId: sim.accountId, objects: ['clients', 'users'], baseUrl: sim.url },
    ]);
    const wrong = await call(h, '/api/connection-test', {
      method: 'POST',
      json: { token: 'not-a-valid-token-abcd', accountId: sim.accountId, baseUrl: sim.url },
      headers: bearer(),
    });
    expect(wrong.status).toBe(200);
    expect(wrong.body.ok).toBe(false);
    expect(wrong.body.message).toMatch(/connection test failed/);
    expect(wrong.text).not.toContain('not-a-valid-token-abcd');
    const missing = await call(h, '/api/connection-test', {
      method: 'POST',
      json: { accountId: '1' },
      headers: bearer(),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.fields.token).toMatch(/required/);
  });

  it('tells whether a SQLite destination can be written, without creating it', async () => {
    const ok = await call(h, '/api/destination-test', {
      method: 'POST',
      json: { destination: 'sqlite:new.db' },
      headers: bearer(),
    });
    expect(ok.body).toMatchObject({ ok: true, kind: 'sqlite' });
    const missingDir = await call(h, '/api/destination-test', {
      method: 'POST',
      json: { destination: 'sqlite:no/such/dir/x.db' },
      headers: bearer(),
    });
    expect(missingDir.body).toMatchObject({ ok: false, kind: 'sqlite' });
    expect(missingDir.body.message).toMatch(/does not exist/);
    const traversal = await call(h, '/api/destination-test', {
      method: 'POST',
      json: { destination: 'sqlite:../../etc/passwd' },
      headers: bearer(),
    });
    expect(traversal.status).toBe(400);
  });

  it('reports a reachable PostgreSQL destination as usable', async () => {
    const schema = `hs_desttest_${randomBytes(4).toString('hex')}`;
    const base = PG_URL;
    const url = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
    try {
      const res = await call(h, '/api/destination-test', {
        method: 'POST',
        json: { destination: url },
        headers: bearer(),
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, kind: 'postgres' });
    } finally {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });

  it('reports a reachable MySQL/MariaDB destination as usable, and an unreachable one without its password', async () => {
    const database = uniqueDatabase();
    try {
      const res = await call(h, '/api/destination-test', {
        method: 'POST',
        json: { destination: databaseUrl(database) },
        headers: bearer(),
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, kind: 'mysql' });
    } finally {
      await dropDatabase(database);
    }
    const down = await call(h, '/api/destination-test', {
      method: 'POST',
      json: { destination: `mysql://sync:${PG_PASSWORD}@127.0.0.1:1/warehouse` },
      headers: bearer(),
    });
    expect(down.body).toMatchObject({
      ok: false,
      kind: 'mysql',
      destination: 'mysql://sync:***@127.0.0.1:1/warehouse',
    });
    expect(down.text).not.toContain(PG_PASSWORD);
  });

  it('reports an unreachable PostgreSQL server without its password', async () => {
    const res = await call(h, '/api/destination-test', {
      method: 'POST',
      json: { destination: `postgres://sync:${PG_PASSWORD}@127.0.0.1:1/warehouse` },
      headers: bearer(),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      kind: 'postgres',
      destination: 'postgres://sync:***@127.0.0.1:1/warehouse',
    });
  });
});

describe('run statistics', () => {
  it('show an identical second run as every record unchanged, and an edited one as updated', async () => {
    const objects = ['clients', 'projects', 'roles', 'invoices'];
    const pipeline = await h.store.createPipeline({
      ...validPipeline({ name: 'counted', objects }),
      accountId: sim.accountId,
      since: null,
      fullRefreshHours: 24,
      baseUrl: sim.url,
      enabled: false,
    });
    const runOnce = async () => {
      const run = await runPipeline(h.store, pipeline.id, {
        trigger: 'manual',
        dataDir: h.dataDir,
        fullRefresh: true,
        baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }),
      });
      expect(run.status, run.error ?? '').toBe('succeeded');
      return (await call(h, `/api/runs/${run.id}`, { headers: bearer() })).body.run;
    };
    const first = await runOnce();
    const second = await runOnce();
    for (const o of second.objects) {
      expect(o, o.object).toMatchObject({ inserted: 0, updated: 0, unchanged: o.read, deleted: 0 });
      expect(o.read, o.object).toBe([...sim.records(o.object)].length);
    }
    expect(second.totals).toMatchObject({ inserted: 0, updated: 0, unchanged: first.totals.read });

    const client = sim.records('clients').next().value!;
    // not the name: a rename reaches the copies embedded in projects and invoices, which change too
    sim.update('clients', Number(client.id), { address: 'Counted as updated' });
    const third = await runOnce();
    const clients = third.objects.find((o: { object: string }) => o.object === 'clients');
    expect(clients).toMatchObject({ inserted: 0, updated: 1, unchanged: clients.read - 1 });
    expect(third.totals).toMatchObject({ updated: 1, unchanged: first.totals.read - 1 });

    const history = await call(h, `/api/pipelines/${pipeline.id}/runs`, { headers: bearer() });
    expect(
      history.body.runs.map((r: RunSummaryBody) => [r.totals.inserted, r.totals.updated, r.totals.unchanged]),
    ).toEqual([
      [0, 1, first.totals.read - 1],
      [0, 0, first.totals.read],
      [first.totals.read, 0, 0],
    ]);
  });
});

describe('metrics', () => {
  it('serves Prometheus text to the API token, with run counters', async () => {
    const pipeline = await h.store.createPipeline({
      ...validPipeline({ name: 'main' }),
      since: null,
      fullRefreshHours: 24,
      baseUrl: 'https://api.harvestapp.com',
      enabled: true,
    });
    const run = await h.store.startRun({
      pipelineId: pipeline.id,
      trigger: 'manual',
      fullRefresh: true,
      startedAt: '2026-06-01T12:00:00.000Z',
    });
    h.metrics.observe({ type: 'run:started', run, pipeline });
    for (const status of [429, 200, 200]) {
      h.metrics.observe({ type: 'request', object: 'clients', path: '/v2/clients', status, ms: 5 });
    }
    h.metrics.observe({ type: 'rate-limit', object: 'clients', waitMs: 1000, cause: '429' });
    h.metrics.observe({ type: 'rate-limit', object: 'clients', waitMs: 10, cause: 'budget' });
    const first = { inserted: 1, updated: 1, unchanged: 3, deleted: 0 };
    h.metrics.observe({
      type: 'object:page',
      object: 'clients',
      records: 5,
      read: 5,
      pages: 1,
      totalEntries: 7,
      written: first,
      counts: first,
    });
    h.metrics.observe({
      type: 'object:page',
      object: 'clients',
      records: 2,
      read: 7,
      pages: 2,
      totalEntries: 7,
      written: { inserted: 0, updated: 0, unchanged: 2, deleted: 1 },
      counts: { inserted: 1, updated: 1, unchanged: 5, deleted: 1 },
    });
    const finished = await h.store.finishRun(run.id, {
      status: 'succeeded',
      finishedAt: '2026-06-01T12:00:03.000Z',
      error: null,
      objects: [],
    });
    h.metrics.observe({ type: 'run:finished', run: finished, pipeline });
    const res = await call(h, '/metrics', { headers: bearer() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toContain('harvest_sync_runs_total{status="succeeded"} 1');
    expect(res.text).toContain('harvest_sync_records_total{object="clients"} 7');
    for (const [change, n] of [
      ['inserted', 1],
      ['updated', 1],
      ['unchanged', 5],
      ['deleted', 1],
    ])
      expect(res.text).toContain(`harvest_sync_rows_total{object="clients",change="${change}"} ${n}`);
    expect(res.text).toContain('harvest_sync_api_calls_total 3');
    expect(res.text).toContain('harvest_sync_rate_limit_waits_total 1');
    expect(res.text).toContain('harvest_sync_run_duration_seconds_sum 3');
    expect(res.text).toContain(
      `harvest_sync_last_success_timestamp_seconds{pipeline="main"} ${Date.parse('2026-06-01T12:00:03Z') / 1000}`,
    );
  });
});

afterAll(() => {
  // secrets never reach a response (body or header) or a log line of this whole file
  const all = transcript.join('\n');
  expect(all.length).toBeGreaterThan(0);
  for (const secret of [PASSWORD, HARVEST_TOKEN, PG_PASSWORD, apiToken]) expect(all).not.toContain(secret);
});
