import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileCredentialStore, sha256 } from '../../src/server/auth.js';
import { appHarness, request } from './support/security.js';
import type { AppHarness } from './support/security.js';

/*
 * Issue 15, credentials separated by power: the admin API token could do everything, so the token
 * handed to Prometheus or a dashboard could also re-point a pipeline. Here: API tokens with a scope
 * (`read`: GET routes and /metrics; `admin`: everything), created, listed and revoked through the API,
 * stored as SHA-256 digests, shown once.
 */

let dir: string;
let h: AppHarness;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-tokens-'));
  h = await appHarness({ credentials: fileCredentialStore(dir) });
});
afterEach(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const admin = () => ({ authorization: `Bearer ${h.apiToken}` });
const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function createToken(name: string, scope: string, headers = admin()) {
  return request(h, '/api/tokens', { method: 'POST', json: { name, scope }, headers });
}

const pipeline = {
  name: 'acme',
  token: 'harvest.pt.abcdefghijklmnop',
  accountId: '123',
  destination: 'sqlite:acme.db',
};

describe('API tokens with a scope', () => {
  it('refuses a bad scope with a message that names the field, and a pipeline body that is not an object', async () => {
    const bad = await createToken('graphs', 'root');
    expect(bad.status).toBe(400);
    expect((bad.body.error as { message: string }).message).toMatch(/^scope: scope must be "read"/);
    const array = await request(h, '/api/pipelines', { method: 'POST', json: [], headers: admin() });
    expect(array.status).toBe(400);
    expect((array.body.error as { message: string }).message).toBe(
      'the pipeline must be a JSON object of its fields (name, token, accountId, …)',
    );
  });

  it('creates a read token shown once, stored only as its SHA-256, listed without it', async () => {
    const created = await createToken('prometheus', 'read');
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(created.body.token).toMatchObject({ name: 'prometheus', scope: 'read', revocable: true });
    const file = readFileSync(join(dir, 'credentials.json'), 'utf8');
    expect(file).not.toContain(secret);
    expect(file).toContain(sha256(secret));

    const list = await request(h, '/api/tokens', { headers: admin() });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain(sha256(secret));
    expect(list.body.tokens.map((t: { name: string; scope: string }) => [t.name, t.scope])).toEqual(
      expect.arrayContaining([
        ['prometheus', 'read'],
        [expect.any(String), 'admin'],
      ]),
    );
  });

  it('lets a read token GET every read route and /metrics, and refuses it every change', async () => {
    const secret = (await createToken('dashboard', 'read')).body.secret as string;
    const seeded = await request(h, '/api/pipelines', { method: 'POST', json: pipeline, headers: admin() });
    expect(seeded.status).toBe(201);
    for (const path of [
      '/api/pipelines',
      '/api/pipelines/acme',
      '/api/pipelines/acme/runs',
      '/api/catalog',
      '/metrics',
      '/api/tokens',
    ]) {
      expect((await request(h, path, { headers: as(secret) })).status, path).toBe(200);
      expect((await request(h, path, { method: 'HEAD', headers: as(secret) })).status, `HEAD ${path}`).toBe(
        200,
      );
    }
    const changes: Array<[string, string, unknown]> = [
      ['POST', '/api/pipelines', { ...pipeline, name: 'other' }],
      ['PATCH', '/api/pipelines/acme', { frequencyHours: 2 }],
      ['POST', '/api/pipelines/acme/pause', undefined],
      ['POST', '/api/pipelines/acme/run', undefined],
      ['DELETE', '/api/pipelines/acme', undefined],
      ['POST', '/api/connection-test', { token: pipeline.token, accountId: '1' }],
      ['POST', '/api/destination-test', { destination: 'sqlite:x.db' }],
      ['POST', '/api/tokens', { name: 'escalate', scope: 'admin' }],
      ['POST', '/api/password', { currentPassword: h.password, newPassword: 'taken over password' }],
    ];
    for (const [method, path, json] of changes) {
      const res = await request(h, path, { method, json, headers: as(secret) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.message, `${method} ${path}`).toMatch(/read-only/);
    }
    expect((await h.store.listPipelines()).map((p) => [p.name, p.frequencyHours, p.enabled])).toEqual([
      ['acme', 1, true],
    ]);
    expect((await h.store.listRuns()).length).toBe(0);
  });

  it('gives an admin token every power, and revoking any token shuts it out at once', async () => {
    const adminSecret = (await createToken('ci', 'admin')).body.secret as string;
    const created = await request(h, '/api/pipelines', {
      method: 'POST',
      json: pipeline,
      headers: as(adminSecret),
    });
    expect(created.status).toBe(201);
    const read = await createToken('grafana', 'read', as(adminSecret));
    const tokens = (await request(h, '/api/tokens', { headers: admin() })).body.tokens as Array<{
      id: string;
      name: string;
    }>;
    for (const name of ['ci', 'grafana']) {
      const id = tokens.find((t) => t.name === name)!.id;
      const revoked = await request(h, `/api/tokens/${id}`, { method: 'DELETE', headers: admin() });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toEqual({ revoked: true, id });
    }
    expect((await request(h, '/api/pipelines', { headers: as(adminSecret) })).status).toBe(401);
    expect((await request(h, '/metrics', { headers: as(read.body.secret as string) })).status).toBe(401);
    expect((await request(h, '/api/tokens/nosuch', { method: 'DELETE', headers: admin() })).status).toBe(404);
    // the token made at first start can be revoked too; then only a session or another token gets in
    const first = (await request(h, '/api/tokens', { headers: admin() })).body.tokens.find(
      (t: { source: string }) => t.source === 'first start',
    );
    expect(first).toMatchObject({ scope: 'admin', revocable: true });
    expect((await request(h, `/api/tokens/${first.id}`, { method: 'DELETE', headers: admin() })).status).toBe(
      200,
    );
    expect((await request(h, '/api/pipelines', { headers: admin() })).status).toBe(401);
  });

  it('refuses a token with an unknown scope or a bad name, storing nothing', async () => {
    const before = readFileSync(join(dir, 'credentials.json'), 'utf8');
    for (const body of [
      { name: 'x', scope: 'root' },
      { name: '', scope: 'read' },
      { name: 'a\nb', scope: 'read' },
      { name: 'x'.repeat(101), scope: 'read' },
      { name: 'x' },
      { name: 'x', scope: 'read', secret: 'chosen' },
    ]) {
      const res = await request(h, '/api/tokens', { method: 'POST', json: body, headers: admin() });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(res.body.error.fields ?? {}).length, JSON.stringify(body)).toBeGreaterThan(0);
    }
    expect(readFileSync(join(dir, 'credentials.json'), 'utf8')).toBe(before);
  });

  it('lets a logged-in admin manage tokens with the CSRF token', async () => {
    const login = await request(h, '/api/login', { method: 'POST', json: { password: h.password } });
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .find((c) => c.startsWith('hs_session='))!;
    const without = await request(h, '/api/tokens', {
      method: 'POST',
      json: { name: 'ui', scope: 'read' },
      headers: { cookie },
    });
    expect(without.status).toBe(403);
    const withCsrf = await request(h, '/api/tokens', {
      method: 'POST',
      json: { name: 'ui', scope: 'read' },
      headers: { cookie, 'x-csrf-token': login.body.csrfToken as string },
    });
    expect(withCsrf.status).toBe(201);
  });
});
