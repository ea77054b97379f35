import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseUrlPolicy } from '../../src/control/base-url-policy.js';
import { runPipeline } from '../../src/control/pipeline-runner.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runCliProcess } from './support/cli-process.js';
import { appHarness, createAcmeArgs, hostileOrigin, request } from './support/security.js';
import type { AppHarness, HostileOrigin } from './support/security.js';

/*
 * Issue 15, "the stored Harvest token can be sent anywhere": anyone holding the API token could PATCH
 * a pipeline's baseUrl to their own server and press Run, and the decrypted token went there. Now a
 * saved pipeline may only talk to Harvest's own host or an origin the operator allows, checked when it
 * is saved and again when it runs, and a new base URL needs the token typed again. The hostile origin
 * below records every request: none may reach it.
 */

const TOKEN = 'harvest.pt.SECRET-base-url-test-0042';

let sim: Simulator;
let evil: HostileOrigin;
beforeAll(async () => {
  sim = await startSimulator({ scale: 0.01, adminToken: TOKEN, rateLimit: null });
  evil = await hostileOrigin();
});
afterAll(async () => {
  await sim?.stop();
  await evil?.stop();
});

const pipeline = () => ({
  name: 'acme',
  token: TOKEN,
  accountId: sim.accountId,
  baseUrl: sim.url,
  destination: 'sqlite:acme.db',
  objects: ['clients'],
});

describe('the allow-list of Harvest API origins', () => {
  it('accepts Harvest itself and the origins given, normalised, and refuses anything else', () => {
    const policy = BaseUrlPolicy.from({
      flags: [`${sim.url}/`],
      env: `https://proxy.example:8443, ${evil.url}`,
    });
    expect(policy.allows('https://api.harvestapp.com')).toBe(true);
    expect(policy.allows(`${sim.url}/v2`)).toBe(true);
    expect(policy.allows('https://PROXY.example:8443/harvest')).toBe(true);
    expect(policy.allows('https://proxy.example')).toBe(false);
    expect(policy.allows('http://api.harvestapp.com')).toBe(false);
    expect(policy.allows('https://api.harvestapp.com.evil.example')).toBe(false);
    expect(BaseUrlPolicy.harvestOnly().allows(sim.url)).toBe(false);
    for (const bad of [
      '',
      'file:///etc/passwd',
      'https://user:pw@proxy.example',
      'https://proxy.example/path',
      'proxy.example',
      'https://proxy.example?x=1',
    ])
      expect(() => BaseUrlPolicy.from({ flags: [bad] }), bad).toThrow(/--allow-base-url/);
  });
});

describe('the API', () => {
  let h: AppHarness;
  beforeEach(async () => {
    h = await appHarness({ baseUrls: BaseUrlPolicy.from({ flags: [sim.url] }) });
  });
  afterEach(() => h.close());
  const admin = () => ({ authorization: `Bearer ${h.apiToken}` });

  it('refuses to save or test a pipeline against an origin not on the list', async () => {
    const created = await request(h, '/api/pipelines', {
      method: 'POST',
      json: { ...pipeline(), baseUrl: evil.url },
      headers: admin(),
    });
    expect(created.status).toBe(400);
    expect(created.body.error.fields.baseUrl).toMatch(/not an allowed Harvest API URL.*--allow-base-url/);
    const tested = await request(h, '/api/connection-test', {
      method: 'POST',
      json: { token: TOKEN, accountId: '1', baseUrl: evil.url },
      headers: admin(),
    });
    expect(tested.status).toBe(400);
    expect(tested.body.error.fields.baseUrl).toMatch(/not an allowed Harvest API URL/);
    expect(await h.store.listPipelines()).toEqual([]);
    expect(evil.requests).toEqual([]);
  });

  it('needs the token again to change the base URL, and never moves the stored one', async () => {
    const created = await request(h, '/api/pipelines', {
      method: 'POST',
      json: pipeline(),
      headers: admin(),
    });
    expect(created.status).toBe(201);
    const alsoAllowed = `${sim.url.replace('127.0.0.1', 'localhost')}`;
    const policy = BaseUrlPolicy.from({ flags: [sim.url, alsoAllowed] });
    await h.close();
    h = await appHarness({ baseUrls: policy });
    await request(h, '/api/pipelines', { method: 'POST', json: pipeline(), headers: admin() });
    const moved = await request(h, '/api/pipelines/acme', {
      method: 'PATCH',
      json: { baseUrl: alsoAllowed },
      headers: admin(),
    });
    expect(moved.status).toBe(400);
    expect(moved.body.error.fields.token).toMatch(/enter the access token again/);
    expect((await h.store.findPipeline('acme'))?.baseUrl).toBe(sim.url);
    // the same URL again is no change; with the token, the move is allowed
    expect(
      (
        await request(h, '/api/pipelines/acme', {
          method: 'PATCH',
          json: { baseUrl: `${sim.url}/` },
          headers: admin(),
        })
      ).status,
    ).toBe(200);
    const withToken = await request(h, '/api/pipelines/acme', {
      method: 'PATCH',
      json: { baseUrl: alsoAllowed, token: TOKEN },
      headers: admin(),
    });
    expect(withToken.status).toBe(200);
    expect(withToken.body.pipeline.baseUrl).toBe(alsoAllowed);
    const toEvil = await request(h, '/api/pipelines/acme', {
      method: 'PATCH',
      json: { baseUrl: evil.url, token: TOKEN },
      headers: admin(),
    });
    expect(toEvil.status).toBe(400);
    expect(toEvil.body.error.fields.baseUrl).toMatch(/not an allowed Harvest API URL/);
    expect(evil.requests).toEqual([]);
  });

  it('never carries a stored destination password to a new destination host', async () => {
    const created = await request(h, '/api/pipelines', {
      method: 'POST',
      json: { ...pipeline(), destination: 'postgres://sync:pgSECRETpw@db.internal:5432/warehouse' },
      headers: admin(),
    });
    expect(created.status).toBe(201);
    const moved = await request(h, '/api/pipelines/acme', {
      method: 'PATCH',
      json: { destination: 'postgres://sync@evil.example:5432/warehouse' },
      headers: admin(),
    });
    expect(moved.status).toBe(200);
    const { destinationUrl } = await h.store.pipelineSecrets(created.body.pipeline.id as number);
    expect(destinationUrl).toBe('postgres://sync@evil.example:5432/warehouse');
  });
});

describe('a run', () => {
  it('of a pipeline saved before, whose origin is not allowed now, fails without sending the token', async () => {
    const h = await appHarness({ baseUrls: BaseUrlPolicy.from({ flags: [evil.url] }) });
    try {
      const created = await request(h, '/api/pipelines', {
        method: 'POST',
        json: { ...pipeline(), baseUrl: evil.url },
        headers: { authorization: `Bearer ${h.apiToken}` },
      });
      expect(created.status).toBe(201);
      const run = await runPipeline(h.store, created.body.pipeline.id as number, {
        trigger: 'manual',
        dataDir: h.dataDir,
        baseUrls: BaseUrlPolicy.harvestOnly(),
      });
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/not an allowed Harvest API URL/);
      expect(run.error).not.toContain(TOKEN);
      // and with no policy given at all, only Harvest itself is allowed
      const again = await runPipeline(h.store, created.body.pipeline.id as number, {
        trigger: 'manual',
        dataDir: h.dataDir,
      });
      expect(again.status).toBe('failed');
      expect(evil.requests).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('the CLI', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'hs-base-url-cli-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCliProcess([...args, '--data-dir', dataDir], { env, timeoutMs: 30_000 });
  const create = (baseUrl: string, extra: string[] = []) =>
    cli([...createAcmeArgs(TOKEN, sim.accountId, baseUrl), ...extra]);

  it('saves a pipeline outside Harvest only with --allow-base-url or HARVEST_SYNC_ALLOWED_BASE_URLS', async () => {
    const refused = await create(sim.url);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^error: baseUrl: .* is not an allowed Harvest API URL.*--allow-base-url.*\n$/,
    );
    expect((await create(sim.url, ['--allow-base-url', sim.url])).code).toBe(0);
    const listed = await cli(['pipelines', 'list'], {
      HARVEST_SYNC_ALLOWED_BASE_URLS: `${evil.url},${sim.url}`,
    });
    expect(listed.code).toBe(0);
    const bad = await cli(['pipelines', 'list', '--allow-base-url', 'ftp://files.example']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --allow-base-url/);
  });

  it('needs --token again to change the base URL, and runs only against an allowed origin', async () => {
    expect((await create(evil.url, ['--allow-base-url', evil.url, '--skip-test'])).code).toBe(0);
    const moved = await cli([
      'pipelines',
      'update',
      'acme',
      '--base-url',
      sim.url,
      '--allow-base-url',
      sim.url,
    ]);
    expect(moved.code).toBe(2);
    expect(moved.stderr).toMatch(/enter the access token again/);
    // the pipeline was saved while its origin was allowed; without the allow-list it must not run
    const run = await cli(['pipelines', 'run', 'acme', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'failed' });
    expect(run.stdout).toMatch(/not an allowed Harvest API URL/);
    expect(evil.requests).toEqual([]);
    const withToken = await cli(
      ['pipelines', 'update', 'acme', '--base-url', sim.url, '--allow-base-url', sim.url],
      { HARVEST_ACCESS_TOKEN: TOKEN },
    );
    expect(withToken.code, withToken.stderr).toBe(0);
    const ok = await cli(['pipelines', 'run', 'acme'], { HARVEST_SYNC_ALLOWED_BASE_URLS: sim.url });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('lets the one-shot run use any base URL: the token is given there and then', async () => {
    const run = await runCliProcess(
      [
        'run',
        '--token',
        TOKEN,
        '--account-id',
        sim.accountId,
        '--base-url',
        sim.url,
        '--objects',
        'clients',
        '--destination',
        `sqlite:${join(dataDir, 'one-shot.db')}`,
      ],
      { timeoutMs: 30_000 },
    );
    expect(run.code, run.stderr).toBe(0);
  });
});
