import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { HarvestClient, type HarvestClientOptions } from '../../src/harvest/client.js';
import { HarvestApiError } from '../../src/harvest/errors.js';
import { nodeTransport, type HttpTransport } from '../../src/harvest/transport.js';
import type { ClientEvent } from '../../src/harvest/types.js';
import { selfSignedCertificate } from '../support/certificate.js';
import { TestClock } from '../support/clock.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';
import { envelope, sendJson, serversClosedAfterEach, spec, type TestServer } from './helpers.js';

const TOKEN = 'pat.SECRET-transport-1a2b3c';
const serve = serversClosedAfterEach();
const clients = spec('clients');

function makeClient(baseUrl: string, extra: Partial<HarvestClientOptions> = {}) {
  const events: ClientEvent[] = [];
  const client = new HarvestClient({
    token: TOKEN,
    accountId: '123456',
    baseUrl,
    clock: new TestClock({ realTime: true, sleeps: 'instant' }),
    random: () => 0.5,
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { client, events };
}

const firstPage = (client: HarvestClient) =>
  client.fetchPage(clients, client.firstPageUrl(clients, { perPage: 10 }));

/** The error a promise rejects with: one line, never the token. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => new Error('resolved, expected a rejection'),
    (e: unknown) => e as Error,
  );
  expect(error.message).not.toContain(TOKEN);
  expect(error.message).not.toContain('\n');
  return error;
}

const retryReasons = (events: ClientEvent[]) => events.flatMap((e) => (e.type === 'retry' ? [e.reason] : []));

const causeCode = (error: unknown) => ((error as { cause?: { code?: unknown } }).cause ?? {}).code;

/** A request the transport sends with the headers the client would. */
const get = (transport: HttpTransport, server: TestServer, path = '/v2/clients') =>
  transport.get(
    new URL(`${server.url}${path}`),
    { Accept: 'application/json' },
    new AbortController().signal,
  );

const ENCODERS: Record<string, (bytes: Buffer) => Buffer> = {
  gzip: gzipSync,
  deflate: deflateSync,
  'deflate (raw, as some servers send it)': deflateRawSync,
  br: brotliCompressSync,
};

/** Sends `bytes` encoded as `encoding` (the key of ENCODERS), with its length. */
function sendEncoded(res: ServerResponse, encoding: string, bytes: Buffer, status = 200) {
  const body = ENCODERS[encoding](bytes);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Encoding': encoding.split(' ')[0],
    'Content-Length': body.length,
  });
  res.end(body);
}

const records = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: `Client ${i + 1} — Zoë 日本 🎉`,
    notes: 'x'.repeat(300),
  }));

describe('the node:http transport, through the client', () => {
  it.each(Object.keys(ENCODERS))('asks for compressed bodies and reads a %s one', async (encoding) => {
    const sent = records(50);
    const server = await serve((_req, res) =>
      sendEncoded(res, encoding, Buffer.from(JSON.stringify(envelope('clients', sent, null)))),
    );
    const { client } = makeClient(server.url);
    expect((await firstPage(client)).records).toEqual(sent);
    expect(server.requests[0].headers['accept-encoding']).toBe('gzip, deflate, br');
  });

  it('drops a UTF-8 BOM inside a gzip body', async () => {
    const sent = records(3);
    const text = Buffer.from(JSON.stringify(envelope('clients', sent, null)));
    const server = await serve((_req, res) =>
      sendEncoded(res, 'gzip', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text])),
    );
    const { client } = makeClient(server.url);
    expect((await firstPage(client)).records).toEqual(sent);
  });

  it("reads a compressed error body: Harvest's own text in the message, the token blanked", async () => {
    const server = await serve((_req, res) =>
      sendEncoded(res, 'gzip', Buffer.from(JSON.stringify({ message: `per_page is bad for ${TOKEN}` })), 422),
    );
    const { client } = makeClient(server.url);
    const error = await failure(firstPage(client));
    expect(error).toBeInstanceOf(HarvestApiError);
    expect(error.message).toContain('per_page is bad for [redacted]');
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['plain, chunked', false],
    ['gzip', true],
  ])('reads a large body sent in many small writes (%s)', async (_name, gzip) => {
    const sent = records(2000);
    const text = Buffer.from(JSON.stringify(envelope('clients', sent, null)));
    const body = gzip ? gzipSync(text) : text;
    const server = await serve(async (_req, res) => {
      res.writeHead(200, {
        'Content-Type': 'application/json',
        ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
      });
      for (let at = 0; at < body.length; at += 8_192) {
        res.write(body.subarray(at, at + 8_192));
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    });
    const { client } = makeClient(server.url);
    expect((await firstPage(client)).records).toEqual(sent);
    expect(text.length).toBeGreaterThan(500_000);
  });

  it('refuses a redirect: the token goes nowhere else', async () => {
    const elsewhere = await serve((_req, res) => sendJson(res, 200, envelope('clients', [], null)));
    const server = await serve((_req, res) => {
      res.writeHead(302, { Location: `${elsewhere.url}/v2/clients?per_page=10` });
      res.end();
    });
    const { client } = makeClient(server.url);
    const error = await failure(firstPage(client));
    expect(error.message).toMatch(
      /^clients: GET http:\/\/127\.0\.0\.1:\d+\/v2\/clients\?per_page=10 answered with a redirect \(302\)/,
    );
    expect(server.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('retries a body that stalls past the timeout, with the same message as a stalled request', async () => {
    const server = await serve((_req, res, index) => {
      if (index > 0) return sendJson(res, 200, envelope('clients', [{ id: 1 }], null));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"clients":[');
    });
    const { client, events } = makeClient(server.url, { timeoutMs: 150 });
    expect((await firstPage(client)).records).toEqual([{ id: 1 }]);
    expect(retryReasons(events)).toEqual(['timed out after 150 ms']);
  });

  it('stops with InterruptedError when the caller aborts during the body, closing the socket', async () => {
    let started!: () => void;
    const bodyStarted = new Promise<void>((resolve) => (started = resolve));
    let closed!: () => void;
    const socketClosed = new Promise<void>((resolve) => (closed = resolve));
    const server = await serve((req, res) => {
      req.socket.on('close', () => closed());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"clients":[', () => started());
    });
    const { client } = makeClient(server.url);
    const controller = new AbortController();
    const pending = client.fetchPage(
      clients,
      client.firstPageUrl(clients, { perPage: 10 }),
      controller.signal,
    );
    await bodyStarted;
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(InterruptedError);
    await socketClosed;
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 429 after its Retry-After, reading the header from the node response', async () => {
    const server = await serve((_req, res, index) => {
      if (index === 0) return sendJson(res, 429, { message: 'slow down' }, { 'Retry-After': '3' });
      sendJson(res, 200, envelope('clients', [{ id: 1 }], null));
    });
    const { client, events } = makeClient(server.url);
    expect((await firstPage(client)).records).toEqual([{ id: 1 }]);
    expect(retryReasons(events)).toEqual(['429 Too Many Requests (Retry-After: waiting 3 s)']);
  });
});

/** The client's messages are the same whichever way the request went. */
describe.each([
  ['node:http', {}],
  ['fetch', { fetch }],
] as const)('the messages a user sees (%s)', (_name, transport) => {
  it('a refused connection: request failed: network error (ECONNREFUSED)', async () => {
    const server = await serve(() => undefined);
    const { url } = server;
    await server.close();
    const { client } = makeClient(url, transport);
    const error = await failure(firstPage(client));
    expect(error.message).toBe(
      'clients: Harvest is unavailable: GET /v2/clients?per_page=10 failed 3 times (last: request failed: network error (ECONNREFUSED)) — try again later',
    );
  });

  it.each([
    ['a Content-Length it does not deliver', true],
    ['a reset mid-body', false],
  ])('a body cut short (%s) is retried', async (_how, withLength) => {
    const server = await serve((req, res, index) => {
      if (index > 0) return sendJson(res, 200, envelope('clients', [{ id: 1 }], null));
      res.writeHead(200, {
        'Content-Type': 'application/json',
        ...(withLength ? { 'Content-Length': '5000' } : {}),
      });
      res.write('{"clients":[{"id":1},', () =>
        withLength ? req.socket.end() : req.socket.resetAndDestroy(),
      );
    });
    const { client, events } = makeClient(server.url, transport);
    expect((await firstPage(client)).records).toEqual([{ id: 1 }]);
    const reasons = retryReasons(events);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^response body cut short: network error \([A-Z_]+\)$/);
  });
});

describe('the node:http transport itself', () => {
  it('uses one socket for sequential calls, error answers included', async () => {
    const server = await serve((_req, res, index) =>
      sendJson(res, index % 2 === 0 ? 200 : 404, { index }, { 'X-Index': String(index) }),
    );
    const transport = nodeTransport();
    for (let i = 0; i < 6; i++) {
      const response = await get(transport, server);
      expect(response.status).toBe(i % 2 === 0 ? 200 : 404);
      expect(response.headers.get('x-INDEX')).toBe(String(i));
      expect(JSON.parse(Buffer.from(await response.body()).toString())).toEqual({ index: i });
    }
    expect(server.connections).toBe(1);
  });

  it('sends a GET again on a new socket when the server had closed the reused one', async () => {
    const server = await serve((req, res, index) => {
      if (index === 1) return req.socket.destroy();
      sendJson(res, 200, { index });
    });
    const transport = nodeTransport();
    await (await get(transport, server)).body();
    const again = await get(transport, server);
    expect(JSON.parse(Buffer.from(await again.body()).toString())).toEqual({ index: 2 });
    expect(server.connections).toBe(2);
  });

  it('does not send again when a new socket fails: that is for the client to retry', async () => {
    const server = await serve((req) => req.socket.destroy());
    const error = await failure(get(nodeTransport(), server));
    expect(causeCode(error)).toBe('ECONNRESET');
    expect(server.requests).toHaveLength(1);
  });

  it('reports a body cut short as ECONNRESET, and a refused connection as ECONNREFUSED', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"cut":', () => req.socket.end());
    });
    const response = await get(nodeTransport(), server);
    expect(response.status).toBe(200);
    const cut = await failure(response.body());
    expect(causeCode(cut)).toBe('ECONNRESET');
    await server.close();
    expect(causeCode(await failure(get(nodeTransport(), server)))).toBe('ECONNREFUSED');
  });
});

const certDir = tempDir();
const certificate = selfSignedCertificate(certDir.dir);
afterAll(() => certDir.cleanup());

describe.skipIf(certificate === null)(
  'https (a self-signed certificate from openssl; skipped without the openssl binary)',
  () => {
    let url = '';
    let close = async () => undefined;
    beforeAll(async () => {
      const server = createHttpsServer(
        { key: certificate?.key, cert: certificate?.cert },
        (_req: IncomingMessage, res: ServerResponse) =>
          sendEncoded(res, 'gzip', Buffer.from(JSON.stringify(envelope('clients', [{ id: 7 }], null)))),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () =>
        new Promise<undefined>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve(undefined));
        });
    });
    afterAll(() => close());

    const HINT =
      "a certificate from your own CA is trusted by starting harvest-sync with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, otherwise check the Harvest API URL (--base-url, HARVEST_BASE_URL or the pipeline's baseUrl)";

    /** The client's error for a refused certificate: one attempt, no retry, one line with the fix. */
    async function refused(client: HarvestClient, events: ClientEvent[]): Promise<HarvestApiError> {
      const error = await failure(firstPage(client));
      expect(error).toBeInstanceOf(HarvestApiError);
      expect((error as HarvestApiError).code).toBe('HARVEST_TLS');
      expect(events.filter((e) => e.type === 'request')).toHaveLength(1);
      expect(retryReasons(events)).toEqual([]);
      expect(client.stats('clients').calls).toBe(1);
      return error as HarvestApiError;
    }

    it.each([
      ['node:http', {}],
      ['fetch', { fetch }],
    ] as const)(
      'refuses a certificate nobody vouches for at the first attempt, in one line with the fix (%s)',
      async (_name, transport) => {
        const { client, events } = makeClient(url, { ...transport, retry: { maxAttempts: 6 } });
        const error = await refused(client, events);
        expect(error.message).toBe(
          `clients: the TLS certificate of ${url} was refused (DEPTH_ZERO_SELF_SIGNED_CERT: the certificate is self-signed), so GET /v2/clients?per_page=10 was not sent; ${HINT}`,
        );
      },
    );

    it('refuses a trusted certificate for another host name, at the first attempt', async () => {
      const other = url.replace('127.0.0.1', 'localhost');
      const { client, events } = makeClient(other, {
        transport: nodeTransport({ ca: certificate?.cert }),
        retry: { maxAttempts: 6 },
      });
      const error = await refused(client, events);
      expect(error.message).toBe(
        `clients: the TLS certificate of ${other} was refused (ERR_TLS_CERT_ALTNAME_INVALID: the certificate is for another host name), so GET /v2/clients?per_page=10 was not sent; ${HINT}`,
      );
    });

    it('reads over TLS once the certificate is trusted', async () => {
      const { client } = makeClient(url, { transport: nodeTransport({ ca: certificate?.cert }) });
      expect((await firstPage(client)).records).toEqual([{ id: 7 }]);
    });
  },
);
