import { describe, expect, it } from 'vitest';
import { testConnection } from '../../src/control/connection-test.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { HarvestApiError, isPermissionError } from '../../src/harvest/errors.js';
import { FORBIDDEN, HTML_NOT_FOUND, JSON_NOT_FOUND, replay } from '../support/harvest-answers.js';
import { sendJson, serversClosedAfterEach, spec, type TestServer } from './helpers.js';
import { TestClock } from '../support/clock.js';

/*
 * Harvest's own answers (JSON) about permissions are skips; anything else answering 401/403/404 (an
 * HTML page, a proxy's error, an empty body) means the API root is wrong: a configuration error
 * naming the URL, never a skip. The bodies replayed are Harvest's recorded ones (test/fixtures).
 */

const TOKEN = 'pat.SECRET-1234abcd';
const ACCOUNT = '123456';

const serve = serversClosedAfterEach();

function client(server: TestServer, baseUrl = server.url): HarvestClient {
  return new HarvestClient({
    token: TOKEN,
    accountId: ACCOUNT,
    baseUrl,
    clock: new TestClock({ realTime: true, sleeps: 'instant' }),
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10 },
  });
}

async function listError(c: HarvestClient, object: string): Promise<HarvestApiError> {
  const error = await c.fetchPage(spec(object), c.firstPageUrl(spec(object), { perPage: 1 })).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HarvestApiError);
  return error as HarvestApiError;
}

/** A message that says nothing of the body it is about. */
function expectNoBody(message: string): void {
  expect(message).not.toMatch(/<|html>|DOCTYPE|Can.t find page|gtag/i);
  expect(message).not.toContain(TOKEN);
  expect(message).not.toContain('\n');
}

describe('answers that are not Harvest API answers', () => {
  it("fails Harvest's HTML 404 on a list endpoint as a wrong API root naming the URL, not as a permission skip", async () => {
    const server = await serve((_req, res) => replay(res, HTML_NOT_FOUND));
    const error = await listError(client(server), 'clients');
    expect(error.code).toBe('HARVEST_NOT_API');
    expect(isPermissionError(error)).toBe(false);
    expect(error.message).toBe(
      `clients: GET ${server.url}/v2/clients?per_page=1 answered 404 with an HTML page, not an answer of Harvest's API: check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl); Harvest's own is https://api.harvestapp.com`,
    );
    expectNoBody(error.message);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['an empty 404', 404, '', 'an empty body'],
    [
      'a proxy page 404 in plain text',
      404,
      'upstream not found: 10.0.0.7',
      "a body that is not Harvest's JSON",
    ],
    [
      'a JSON 403 that is not Harvest shaped',
      403,
      '{"detail":"blocked by policy"}',
      "a body that is not Harvest's JSON",
    ],
    ['an HTML 401 of a login proxy', 401, '<html><body>Sign in</body></html>', 'an HTML page'],
  ])('treats %s the same way', async (_label, status, body, what) => {
    const server = await serve((_req, res) => {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    });
    const error = await listError(client(server), 'projects');
    expect(error.code).toBe('HARVEST_NOT_API');
    expect(isPermissionError(error)).toBe(false);
    expect(error.message).toContain(
      `GET ${server.url}/v2/projects?per_page=1 answered ${status} with ${what},`,
    );
    expect(error.message).not.toContain(body.slice(1, 20) || '\0');
    expectNoBody(error.message);
  });

  it('fails a 200 web page at once (no retries), without repeating it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Welcome to nginx!</title>');
    });
    const error = await listError(client(server), 'clients');
    expect(error.code).toBe('HARVEST_NOT_API');
    expect(error.message).toContain(`GET ${server.url}/v2/clients?per_page=1 answered 200 with an HTML page`);
    expectNoBody(error.message);
    expect(server.requests).toHaveLength(1);
  });

  it("keeps Harvest's recorded 403 and JSON 404 as permission skips", async () => {
    const forbidden = await serve((_req, res) => replay(res, FORBIDDEN));
    const denied = await listError(client(forbidden), 'clients');
    expect(denied.code).toBe('HARVEST_FORBIDDEN');
    expect(isPermissionError(denied)).toBe(true);
    expect(denied.message).toBe(
      'clients: this token may not read clients (403 Not authorized!): an administrator token (or a manager with the matching permission) is needed',
    );
    const missing = await serve((_req, res) => replay(res, JSON_NOT_FOUND));
    const notFound = await listError(client(missing), 'invoices');
    expect(notFound.code).toBe('HARVEST_NOT_FOUND');
    expect(isPermissionError(notFound)).toBe(true);
  });

  it('names the URL under a proxy prefix, without the token or a query credential', async () => {
    const server = await serve((_req, res) => replay(res, HTML_NOT_FOUND));
    const c = client(server, `${server.url}/harvest/v2/`);
    const error = await c
      .fetchPage(spec('clients'), `${server.url}/harvest/v2/clients?page=2&access_token=${TOKEN}`)
      .then(
        () => null,
        (e: unknown) => e as HarvestApiError,
      );
    expect(error?.message).toContain(`GET ${server.url}/harvest/v2/clients?page=2 answered 404`);
    expectNoBody(error?.message ?? '');
  });

  it('makes checkConnection throw instead of listing objects as unreadable', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (req.url === '/v2/users/me') return sendJson(res, 200, { id: 1, first_name: 'A', last_name: 'B' });
      if (req.url === '/v2/company') return sendJson(res, 200, { name: 'Acme' });
      replay(res, HTML_NOT_FOUND);
    });
    await expect(client(server).checkConnection([spec('clients'), spec('tasks')])).rejects.toMatchObject({
      code: 'HARVEST_NOT_API',
    });
    expect(calls).toBeGreaterThan(2);
  });

  it('refuses a users/me answer that is not a Harvest user', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { status: 'ok' }));
    await expect(client(server).checkConnection([spec('clients')])).rejects.toMatchObject({
      code: 'HARVEST_NOT_API',
      message: expect.stringMatching(
        /^users\/me: GET http:\/\/127\.0\.0\.1:\d+\/v2\/users\/me answered 200 with JSON that is not a Harvest user/,
      ),
    });
  });
});

describe("the daemon's connection test never tells what answered", () => {
  /** The test's line with the URL tested replaced, so lines for different servers compare. */
  async function line(baseUrl: string): Promise<string> {
    const result = await testConnection({ token: TOKEN, accountId: ACCOUNT, baseUrl });
    expect(result).toMatchObject({ ok: false, user: null, objects: [] });
    return result.message.split(baseUrl).join('<URL>');
  }

  it('gives one generic line for a closed port, an HTML 404, a web page, a JSON error and a server error', async () => {
    const html404 = await serve((_req, res) => replay(res, HTML_NOT_FOUND));
    const page = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<h1>intranet</h1>');
    });
    const chatty = await serve((_req, res) =>
      sendJson(res, 400, { message: 'internal secret: db-7.corp password expired', error: 'E_DB' }),
    );
    const broken = await serve((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error":"stack at Foo.bar (/srv/app.js:1:1)"}');
    });
    const free = await serve(() => undefined);
    await free.close();
    const lines = await Promise.all([free.url, html404.url, page.url, chatty.url, broken.url].map(line));
    const expected =
      "connection test failed: could not reach Harvest at <URL>: check the Harvest API URL (Harvest's own is https://api.harvestapp.com), or try again later";
    expect(lines).toEqual(lines.map(() => expected));
  }, 30_000);

  it('still tells a token Harvest rejected (its own 401 JSON) in our words', async () => {
    const server = await serve((_req, res) =>
      sendJson(res, 401, {
        error: 'invalid_token',
        error_description: 'The access token provided is expired',
      }),
    );
    const result = await testConnection({ token: TOKEN, accountId: ACCOUNT, baseUrl: `${server.url}/v2/` });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(
      /^connection test failed: users\/me: Harvest rejected the access token \(401\): it is invalid, expired or revoked/,
    );
    expect(result.message).not.toContain('provided is expired');
    expect(server.requests[0].url).toBe('/v2/users/me');
  });
});
