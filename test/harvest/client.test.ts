import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { ConfigError, InterruptedError } from '../../src/errors.js';
import { HarvestClient, type HarvestClientOptions } from '../../src/harvest/client.js';
import { HarvestApiError, isPermissionError } from '../../src/harvest/errors.js';
import type { ClientEvent } from '../../src/harvest/types.js';
import { readJsonFixture } from '../support/fixtures.js';
import { envelope, sendJson, serversClosedAfterEach, spec, type TestServer } from './helpers.js';
import { TestClock } from '../support/clock.js';

const TOKEN = 'pat.SECRET-9f8e7d6c5b4a';
const ACCOUNT = '123456';
const recordedErrors = readJsonFixture<
  Record<string, { status: number; headers: Record<string, string>; body: unknown }>
>('harvest-examples/errors.json');

/** Replays an error response recorded from (or documented for) the real Harvest API. */
function fromRecording(scenario: string) {
  return (_req: unknown, res: ServerResponse) => {
    const { status, headers, body } = recordedErrors[scenario];
    sendJson(res, status, body, headers);
  };
}

const serve = serversClosedAfterEach();

function makeClient(server: TestServer, extra: Partial<HarvestClientOptions> = {}) {
  const clock = new TestClock({ realTime: true, sleeps: 'instant' });
  const events: ClientEvent[] = [];
  const client = new HarvestClient({
    token: TOKEN,
    accountId: ACCOUNT,
    baseUrl: server.url,
    clock,
    random: () => 0.5,
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { client, clock, events };
}

function clientsPage(res: ServerResponse, ids: number[]) {
  sendJson(
    res,
    200,
    envelope(
      'clients',
      ids.map((id) => ({ id })),
      null,
    ),
  );
}

/** Asserts the promise rejects with a HarvestApiError and returns it. */
async function apiError(promise: Promise<unknown>): Promise<HarvestApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HarvestApiError);
  const apiErr = error as HarvestApiError;
  expect(apiErr.message).not.toContain(TOKEN);
  expect(apiErr.message).not.toContain('\n');
  return apiErr;
}

describe('HarvestClient requests', () => {
  it('sends the Bearer token, the account id and a User-Agent naming the product', async () => {
    const server = await serve((_req, res) => clientsPage(res, [1]));
    const { client } = makeClient(server);
    const clients = spec('clients');
    await client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 2000 }));
    const headers = server.requests[0].headers;
    expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(headers['harvest-account-id']).toBe(ACCOUNT);
    expect(headers['user-agent']).toMatch(
      /^harvest-sync\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/harvest-sync\/harvest-sync\)$/,
    );
  });

  it('builds first-page URLs with per_page always explicit and filters only when given', async () => {
    const server = await serve((_req, res) => clientsPage(res, []));
    const { client } = makeClient(server, { baseUrl: `${server.url}/` });
    const invoices = spec('invoices');
    expect(client.firstPageUrl(invoices, { perPage: 100 })).toBe(`${server.url}/v2/invoices?per_page=100`);
    const url = new URL(
      client.firstPageUrl(spec('time_entries'), {
        perPage: 2000,
        updatedSince: '2024-05-01T00:00:00Z',
        from: '2024-01-01',
      }),
    );
    expect(url.pathname).toBe('/v2/time_entries');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      per_page: '2000',
      updated_since: '2024-05-01T00:00:00Z',
      from: '2024-01-01',
    });
  });

  it("sends updated_since as Harvest's documented datetime: UTC, Z, whole seconds", async () => {
    const server = await serve((_req, res) => clientsPage(res, []));
    const { client } = makeClient(server);
    const since = (updatedSince: string) =>
      new URL(client.firstPageUrl(spec('clients'), { perPage: 10, updatedSince })).searchParams.get(
        'updated_since',
      );
    // the engine's cursors are toISOString() values: a strict server refuses their milliseconds
    expect(since('2024-05-01T10:20:30.000Z')).toBe('2024-05-01T10:20:30Z');
    // a fraction is dropped downwards, so the window still starts no later than asked
    expect(since('2024-05-01T10:20:30.999Z')).toBe('2024-05-01T10:20:30Z');
    expect(since('2024-05-01T12:20:30+02:00')).toBe('2024-05-01T10:20:30Z');
  });

  it('refuses a per_page outside 1–2000 with a ConfigError', async () => {
    const server = await serve((_req, res) => clientsPage(res, []));
    const { client } = makeClient(server);
    for (const perPage of [0, 2001, 1.5, Number.NaN]) {
      expect(() => client.firstPageUrl(spec('clients'), { perPage })).toThrow(ConfigError);
    }
    expect(() => client.firstPageUrl(spec('clients'), { perPage: 1 })).not.toThrow();
    expect(server.requests).toHaveLength(0);
  });

  it('follows links.next across cursor pages whose page numbers are null until it is null', async () => {
    const server = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const cursor = url.searchParams.get('cursor');
      const base = `http://${req.headers.host}/v2/clients`;
      const page = (ids: number[], next: string | null, numbers: Record<string, unknown>) =>
        sendJson(
          res,
          200,
          envelope(
            'clients',
            ids.map((id) => ({ id })),
            next,
            { total_entries: 5, total_pages: 3, ...numbers },
          ),
          { Date: 'Wed, 01 May 2024 12:00:00 GMT' },
        );
      if (cursor === null) {
        page([5, 4], `${base}?cursor=eyJhZnRlciI6eyJpZCI6NH19&per_page=2&ref=next_cursor`, {
          page: 1,
          next_page: 2,
        });
      } else if (cursor === 'eyJhZnRlciI6eyJpZCI6NH19') {
        page([3, 2], `${base}?cursor=eyJhZnRlciI6eyJpZCI6Mn19&per_page=2&ref=next_cursor`, {
          page: null,
          next_page: null,
          previous_page: null,
        });
      } else {
        page([1], null, { page: 3, next_page: null });
      }
    });
    const { client } = makeClient(server);
    const clients = spec('clients');
    const ids: number[] = [];
    let url: string | null = client.firstPageUrl(clients, { perPage: 2 });
    let pages = 0;
    while (url !== null) {
      const page = await client.fetchPage(clients, url);
      ids.push(...page.records.map((r) => r.id as number));
      expect(page.serverTime).toBe('2024-05-01T12:00:00.000Z');
      expect(page.totalEntries).toBe(5);
      url = page.nextUrl;
      pages++;
    }
    expect(ids).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v2/clients?per_page=2',
      '/v2/clients?cursor=eyJhZnRlciI6eyJpZCI6NH19&per_page=2&ref=next_cursor',
      '/v2/clients?cursor=eyJhZnRlciI6eyJpZCI6Mn19&per_page=2&ref=next_cursor',
    ]);
    expect(client.stats('clients')).toEqual({ calls: 3, rateLimitWaits: 0, retries: 0 });
  });

  it('refuses a links.next on another origin without sending anything there', async () => {
    const server = await serve((_req, res) => clientsPage(res, []));
    const calls: string[] = [];
    const spy: typeof fetch = (input, init) => {
      calls.push(String(input));
      return fetch(input, init);
    };
    const { client } = makeClient(server, { fetch: spy });
    const error = await apiError(
      client.fetchPage(spec('clients'), 'https://evil.example/v2/clients?cursor=abc'),
    );
    expect(error.code).toBe('HARVEST_BAD_RESPONSE');
    expect(error.message).toMatch(/^clients: refusing to follow a next-page link to https:\/\/evil\.example/);
    expect(calls).toEqual([]);
  });

  it('reuses keep-alive connections across pages, error answers and retries', async () => {
    const server = await serve((req, res, index) => {
      if (index === 1) return sendJson(res, 503, { message: 'busy' });
      if (req.url?.startsWith('/v2/roles')) return sendJson(res, 403, { message: 'Not authorized!' });
      clientsPage(res, [index]);
    });
    const { client } = makeClient(server);
    const clients = spec('clients');
    const roles = spec('roles');
    for (let i = 0; i < 6; i++) {
      await client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 }));
      await expect(client.fetchPage(roles, client.firstPageUrl(roles, { perPage: 10 }))).rejects.toThrow(
        /roles/,
      );
    }
    expect(server.requests).toHaveLength(13);
    // an unread error body, or a socket not returned to the agent, would open one per answer
    expect(server.connections).toBe(1);
  });
});

describe('HarvestClient rate limits', () => {
  it('waits the Retry-After seconds after a 429, then succeeds', async () => {
    const server = await serve((_req, res, index) => {
      if (index === 0) return sendJson(res, 429, { message: 'slow down' }, { 'Retry-After': '2' });
      clientsPage(res, [1]);
    });
    const { client, clock, events } = makeClient(server);
    const clients = spec('clients');
    const page = await client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 }));
    expect(page.records).toHaveLength(1);
    const longest = Math.max(...clock.sleeps);
    expect(longest).toBeGreaterThan(1_900);
    expect(longest).toBeLessThanOrEqual(2_000);
    expect(events.some((e) => e.type === 'rate-limit' && e.cause === '429')).toBe(true);
    expect(client.stats('clients')).toMatchObject({ calls: 2, retries: 1, rateLimitWaits: 1 });
  });

  it('reads a Retry-After HTTP date against the server Date header', async () => {
    const base = Math.floor(Date.now() / 1000) * 1000;
    const server = await serve((_req, res, index) => {
      if (index > 0) return clientsPage(res, [1]);
      res.writeHead(429, {
        Date: new Date(base).toUTCString(),
        'Retry-After': new Date(base + 5_000).toUTCString(),
        'Content-Length': '0',
      });
      res.end();
    });
    const { client, clock } = makeClient(server);
    await client.fetchPage(spec('clients'), client.firstPageUrl(spec('clients'), { perPage: 10 }));
    const longest = Math.max(...clock.sleeps);
    expect(longest).toBeGreaterThan(4_900);
    expect(longest).toBeLessThanOrEqual(5_000);
  });

  it.each([
    ['no Retry-After and an HTML body', 'text/html', '<html><body>Too many requests</body></html>'],
    ['no Retry-After and an empty text/html body (as recorded from Harvest)', 'text/html', ''],
    ['an unreadable Retry-After', 'application/json', '{"message":"x"}'],
  ])('falls back to a fixed wait after a 429 with %s', async (_name, contentType, body) => {
    const server = await serve((_req, res, index) => {
      if (index > 0) return clientsPage(res, [1]);
      const headers: Record<string, string> = { 'Content-Type': contentType };
      if (_name.includes('unreadable')) headers['Retry-After'] = 'later';
      res.writeHead(429, headers);
      res.end(body);
    });
    const { client, clock } = makeClient(server, { retryAfterFallbackMs: 7_000 });
    const page = await client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
    );
    expect(page.records).toHaveLength(1);
    const longest = Math.max(...clock.sleeps);
    expect(longest).toBeGreaterThan(6_900);
    expect(longest).toBeLessThanOrEqual(7_000);
  });

  it('gives up after bounded 429 waits with HARVEST_RATE_LIMITED', async () => {
    const server = await serve((_req, res) => sendJson(res, 429, {}, { 'Retry-After': '1' }));
    const { client } = makeClient(server);
    const error = await apiError(
      client.fetchPage(spec('tasks'), client.firstPageUrl(spec('tasks'), { perPage: 10 })),
    );
    expect(error.code).toBe('HARVEST_RATE_LIMITED');
    expect(error.message).toMatch(
      /^tasks: Harvest kept answering 429 .* GET \/v2\/tasks\?per_page=10 \(3 attempts\)/,
    );
    expect(server.requests).toHaveLength(3);
  });

  it('paces concurrent objects through one limiter: zero 429s from a server enforcing the same limit', async () => {
    // a window long enough that a busy machine's lag (other test files run beside this one) is a
    // small share of it, while one window too many still fails the upper bound
    const windowMs = 1000;
    const limit = 10;
    const accepted: number[] = [];
    let rejected = 0;
    const server = await serve((req, res) => {
      const now = performance.now();
      if (accepted.filter((t) => t > now - windowMs).length >= limit) {
        rejected++;
        return sendJson(res, 429, {}, { 'Retry-After': '1' });
      }
      accepted.push(now);
      const url = new URL(req.url ?? '/', 'http://x');
      const page = Number(url.searchParams.get('page') ?? '1');
      const key = url.pathname.split('/')[2];
      const next = page < 10 ? `http://${req.headers.host}${url.pathname}?page=${page + 1}&per_page=1` : null;
      sendJson(res, 200, envelope(key, [{ id: page }], next));
    });
    const client = new HarvestClient({
      token: TOKEN,
      accountId: ACCOUNT,
      baseUrl: server.url,
      rateLimit: { requests: limit, windowMs },
      // real time on a shared machine: room for event-loop lag between our start and the server's count
      safetyMarginMs: 40,
    });
    const walk = async (name: string) => {
      const object = spec(name);
      let url: string | null = client.firstPageUrl(object, { perPage: 1 });
      let pages = 0;
      while (url) {
        url = (await client.fetchPage(object, url)).nextUrl;
        pages++;
      }
      return pages;
    };
    const started = performance.now();
    const pages = await Promise.all(['clients', 'tasks', 'users', 'projects'].map(walk));
    const elapsed = performance.now() - started;
    expect(pages).toEqual([10, 10, 10, 10]);
    expect(rejected).toBe(0);
    // 40 calls at 10 per window: the last batch cannot start before 3 windows
    expect(elapsed).toBeGreaterThanOrEqual(3 * windowMs);
    expect(elapsed).toBeLessThan(3 * (windowMs + 40) * 1.25);
  });
});

describe('HarvestClient retries', () => {
  it('retries a 5xx with backoff, then succeeds', async () => {
    const server = await serve((_req, res, index) => {
      if (index < 2) return sendJson(res, index === 0 ? 502 : 500, { message: 'oops' });
      clientsPage(res, [1, 2]);
    });
    const { client, events, clock } = makeClient(server);
    const page = await client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
    );
    expect(page.records).toHaveLength(2);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.map((e) => e.type === 'retry' && [e.attempt, e.delayMs, e.reason])).toEqual([
      [1, 50, '502 Bad Gateway'],
      [2, 100, '500 Internal Server Error'],
    ]);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('fails after bounded retries with a message naming the object and path, never the token', async () => {
    const server = await serve((_req, res) => sendJson(res, 503, { message: `bad ${TOKEN}` }));
    const { client } = makeClient(server, { retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 } });
    const url = client.firstPageUrl(spec('time_entries'), {
      perPage: 2000,
      updatedSince: '2024-01-01T00:00:00Z',
    });
    const error = await apiError(client.fetchPage(spec('time_entries'), url));
    expect(error.code).toBe('HARVEST_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.message).toBe(
      'time_entries: Harvest is unavailable: GET /v2/time_entries?per_page=2000&updated_since=2024-01-01T00%3A00%3A00Z failed 4 times (last: 503 Service Unavailable) — try again later',
    );
    expect(server.requests).toHaveLength(4);
  });

  it('retries a connection reset before any response', async () => {
    const server = await serve((req, res, index) => {
      if (index === 0) return req.socket.destroy();
      clientsPage(res, [1]);
    });
    const { client } = makeClient(server);
    const page = await client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
    );
    expect(page.records).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    ['a Content-Length it does not deliver', true],
    ['a chunked body cut by a reset', false],
  ])('retries a body cut short: %s', async (_name, withLength) => {
    const server = await serve((req, res, index) => {
      if (index > 0) return clientsPage(res, [1]);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        ...(withLength ? { 'Content-Length': '5000' } : {}),
      });
      res.write('{"clients":[{"id":1},{"id":');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const { client, events } = makeClient(server);
    const page = await client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
    );
    expect(page.records).toHaveLength(1);
    const retry = events.find((e) => e.type === 'retry');
    expect(retry?.type === 'retry' && retry.reason).toMatch(/^response body cut short/);
  });

  it('retries invalid JSON, and fails with HARVEST_BAD_RESPONSE if it stays invalid', async () => {
    let broken = 1;
    const server = await serve((_req, res, index) => {
      if (index < broken) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end('{"clients":[{"id":1},');
      }
      clientsPage(res, [1]);
    });
    const { client } = makeClient(server);
    const clients = spec('clients');
    expect(
      (await client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 }))).records,
    ).toHaveLength(1);
    broken = 100;
    const error = await apiError(client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 })));
    expect(error.code).toBe('HARVEST_BAD_RESPONSE');
    expect(error.message).toMatch(
      /^clients: Harvest's answer to GET \/v2\/clients\?per_page=10 was unreadable 3 times \(last: invalid JSON/,
    );
  });

  it('reads UTF-8 bodies as TextDecoder would: a leading BOM dropped, multi-byte text kept', async () => {
    const body = JSON.stringify(envelope('clients', [{ id: 1, name: 'Zoë — 日本 🎉' }], null));
    const server = await serve((_req, res) => {
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body, 'utf8')]);
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': bytes.length,
      });
      res.end(bytes);
    });
    const { client } = makeClient(server);
    const clients = spec('clients');
    const page = await client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 }));
    expect(page.records).toEqual([{ id: 1, name: 'Zoë — 日本 🎉' }]);
  });

  it('retries a request that times out', async () => {
    const server = await serve((_req, res, index) => {
      if (index === 0) return; // never answers
      clientsPage(res, [1]);
    });
    const { client, events } = makeClient(server, { timeoutMs: 150 });
    const page = await client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
    );
    expect(page.records).toHaveLength(1);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ reason: 'timed out after 150 ms' });
  });

  it('fails a network error to a closed port with HARVEST_UNAVAILABLE', async () => {
    const server = await serve((_req, res) => clientsPage(res, []));
    const url = server.url;
    await server.close();
    const { client } = makeClient(
      { ...server, url },
      { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } },
    );
    const error = await apiError(
      client.fetchPage(spec('users'), client.firstPageUrl(spec('users'), { perPage: 5 })),
    );
    expect(error.code).toBe('HARVEST_UNAVAILABLE');
    expect(error.status).toBeNull();
    expect(error.message).toMatch(
      /^users: Harvest is unavailable: GET \/v2\/users\?per_page=5 failed 2 times \(last: request failed: network error \(ECONNREFUSED\)\)/,
    );
  });

  it('stops at once with InterruptedError when the caller aborts during a request', async () => {
    let arrived!: () => void;
    const received = new Promise<void>((resolve) => (arrived = resolve));
    const server = await serve(() => arrived());
    const { client } = makeClient(server);
    const controller = new AbortController();
    const pending = client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
      controller.signal,
    );
    await received;
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(InterruptedError);
    expect(server.requests).toHaveLength(1);
  });

  it('stops at once with InterruptedError when the caller aborts during a backoff', async () => {
    const server = await serve((_req, res) => sendJson(res, 500, {}));
    let sleeping!: () => void;
    const asleep = new Promise<void>((resolve) => (sleeping = resolve));
    const clock: Clock = {
      now: () => Date.now(),
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          sleeping();
          signal?.addEventListener('abort', () => reject(signal.reason as Error));
        }),
    };
    const { client } = makeClient(server, { clock });
    const controller = new AbortController();
    const pending = client.fetchPage(
      spec('clients'),
      client.firstPageUrl(spec('clients'), { perPage: 10 }),
      controller.signal,
    );
    await asleep;
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(InterruptedError);
    expect(server.requests).toHaveLength(1);
  });
});

describe('HarvestClient errors', () => {
  it('maps a 401 to a one-line message telling how to get a new token, without retrying', async () => {
    const server = await serve(fromRecording('invalid_or_missing_token'));
    const { client } = makeClient(server);
    const error = await apiError(
      client.fetchPage(spec('time_entries'), client.firstPageUrl(spec('time_entries'), { perPage: 10 })),
    );
    expect(error.code).toBe('HARVEST_UNAUTHORIZED');
    expect(error.message).toMatch(
      /^time_entries: Harvest rejected the access token \(401\): it is invalid, expired or revoked — create a new personal access token at https:\/\/id\.getharvest\.com\/developers/,
    );
    expect(server.requests).toHaveLength(1);
    expect(isPermissionError(error)).toBe(false);
  });

  it('maps a 403 on an admin-only object to a permission error naming the role needed', async () => {
    const server = await serve(fromRecording('insufficient_permission'));
    const { client } = makeClient(server);
    const error = await apiError(
      client.fetchPage(spec('roles'), client.firstPageUrl(spec('roles'), { perPage: 10 })),
    );
    expect(error.code).toBe('HARVEST_FORBIDDEN');
    expect(error.message).toBe(
      'roles: this token may not read roles (403 Not authorized!): an administrator token is needed',
    );
    expect(isPermissionError(error)).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('maps a 403 on users/me to a wrong-account message', async () => {
    const server = await serve(fromRecording('insufficient_permission'));
    const { client } = makeClient(server);
    const error = await apiError(client.me());
    expect(error.message).toMatch(
      /^users\/me: Harvest refused access \(403 Not authorized!\): check the account id/,
    );
  });

  it('treats a 404 on a list endpoint as a permission problem, but not on users/me', async () => {
    const server = await serve(fromRecording('record_not_found'));
    const { client } = makeClient(server);
    const list = await apiError(
      client.fetchPage(spec('invoices'), client.firstPageUrl(spec('invoices'), { perPage: 10 })),
    );
    expect(list.code).toBe('HARVEST_NOT_FOUND');
    expect(list.message).toMatch(
      /^invoices: Harvest answered 404 Not Found for GET \/v2\/invoices\?per_page=10: /,
    );
    expect(isPermissionError(list)).toBe(true);
    const me = await apiError(client.me());
    expect(isPermissionError(me)).toBe(false);
    expect(server.requests).toHaveLength(2);
  });

  it("maps a 422 to a message carrying Harvest's own text, with the token blanked if echoed", async () => {
    const server = await serve((_req, res) =>
      sendJson(res, 422, { message: `per_page is invalid for ${TOKEN}` }),
    );
    const { client } = makeClient(server);
    const error = await apiError(
      client.fetchPage(spec('clients'), client.firstPageUrl(spec('clients'), { perPage: 10 })),
    );
    expect(error.code).toBe('HARVEST_UNPROCESSABLE');
    expect(error.message).toBe(
      'clients: Harvest rejected GET /v2/clients?per_page=10 (422): per_page is invalid for [redacted]',
    );
    expect(server.requests).toHaveLength(1);
  });

  it('rejects a 200 whose body lacks the envelope list, without retrying', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { users: [] }));
    const { client } = makeClient(server);
    const error = await apiError(
      client.fetchPage(spec('clients'), client.firstPageUrl(spec('clients'), { perPage: 10 })),
    );
    expect(error.code).toBe('HARVEST_BAD_RESPONSE');
    expect(error.message).toBe(
      'clients: Harvest\'s answer to GET /v2/clients?per_page=10 has no "clients" list of records',
    );
    expect(server.requests).toHaveLength(1);
  });

  it('refuses an empty token, a non-numeric account id and a bad API root', () => {
    expect(() => new HarvestClient({ token: ' ', accountId: ACCOUNT })).toThrow(ConfigError);
    expect(() => new HarvestClient({ token: 'a b', accountId: ACCOUNT })).toThrow(
      /access token must be a Harvest personal access token/,
    );
    expect(() => new HarvestClient({ token: TOKEN, accountId: 'acme' })).toThrow(
      /account id must be the numeric Harvest account id/,
    );
    expect(() => new HarvestClient({ token: TOKEN, accountId: ACCOUNT, baseUrl: 'ftp://x' })).toThrow(
      ConfigError,
    );
  });
});

describe('HarvestClient.checkConnection', () => {
  const adminMe = {
    id: 1,
    first_name: 'Ada',
    last_name: 'Admin',
    email: 'ada@example.com',
    access_roles: ['administrator'],
  };
  const memberMe = {
    id: 2,
    first_name: 'Max',
    last_name: 'Member',
    email: 'max@example.com',
    access_roles: ['member'],
  };

  async function harvest(me: object, readable: (path: string) => boolean) {
    return serve((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/v2/users/me') return sendJson(res, 200, me);
      if (path === '/v2/company') return sendJson(res, 200, { name: 'Acme', base_uri: 'x' });
      if (!readable(path)) return sendJson(res, 403, { message: 'Not authorized!' });
      sendJson(res, 200, envelope(path.split('/')[2], [], null));
    });
  }

  const objects = ['clients', 'roles', 'time_entries', 'expense_categories'].map(spec);

  it('reports an admin token as able to read everything', async () => {
    const server = await harvest(adminMe, () => true);
    const { client } = makeClient(server);
    const check = await client.checkConnection(objects);
    expect(check).toEqual({
      user: { id: 1, name: 'Ada Admin', email: 'ada@example.com' },
      isAdmin: true,
      accessRoles: ['administrator'],
      company: { name: 'Acme' },
      objects: objects.map((o) => ({ name: o.name, readable: true })),
    });
    const perPages = server.requests.filter((r) => r.url?.includes('per_page')).map((r) => r.url);
    expect(perPages.every((u) => u?.endsWith('per_page=1'))).toBe(true);
  });

  it('lists what a member token cannot read, with the reason', async () => {
    const server = await harvest(memberMe, (path) => path === '/v2/time_entries');
    const { client } = makeClient(server);
    const check = await client.checkConnection(objects);
    expect(check.isAdmin).toBe(false);
    expect(check.accessRoles).toEqual(['member']);
    expect(check.objects).toEqual([
      {
        name: 'clients',
        readable: false,
        reason:
          'this token may not read clients (403 Not authorized!): an administrator token (or a manager with the matching permission) is needed',
      },
      {
        name: 'roles',
        readable: false,
        reason: 'this token may not read roles (403 Not authorized!): an administrator token is needed',
      },
      { name: 'time_entries', readable: true },
      {
        name: 'expense_categories',
        readable: false,
        reason:
          'this token may not read expense_categories (403 Not authorized!): an administrator token is needed',
      },
    ]);
  });

  it('reads the admin flag of accounts that still send the pre-access_roles user shape', async () => {
    const legacy = readJsonFixture<object>('harvest-recorded/users_me_admin.json');
    const server = await harvest(legacy, () => true);
    const { client } = makeClient(server);
    const check = await client.checkConnection([]);
    expect(check.isAdmin).toBe(true);
    expect(check.user.name).toBe('Alexander Hamilton');
  });

  it('throws the 401 error when the token is rejected', async () => {
    const server = await serve(fromRecording('invalid_or_missing_token'));
    const { client } = makeClient(server);
    const error = await apiError(client.checkConnection(objects));
    expect(error.code).toBe('HARVEST_UNAUTHORIZED');
    expect(server.requests).toHaveLength(1);
  });
});
