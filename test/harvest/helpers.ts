import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { ObjectSpec } from '../../src/catalog/types.js';
import { findObject } from '../../src/catalog/objects.js';

export function spec(name: string): ObjectSpec {
  const object = findObject(name);
  if (!object) throw new Error(`no object ${name} in the catalog`);
  return object;
}

export interface TestServer {
  readonly url: string;
  /** Requests received, in order. */
  readonly requests: IncomingMessage[];
  /** TCP connections accepted: 1 for many requests means keep-alive worked. */
  connections: number;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1:0; the handler gets the request's index (0-based). */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, index: number) => unknown,
): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    const index = requests.push(req) - 1;
    req.resume();
    void Promise.resolve(handler(req, res, index)).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  const state: TestServer = {
    url: '',
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, { url: `http://127.0.0.1:${port}` });
}

/** `startServer` for the tests of one file: every server started is closed after each test. */
export function serversClosedAfterEach(): (
  handler: Parameters<typeof startServer>[0],
) => Promise<TestServer> {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (handler) => {
    const server = await startServer(handler);
    servers.push(server);
    return server;
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** A list-endpoint envelope the way Harvest sends it. */
export function envelope(
  key: string,
  records: unknown[],
  next: string | null,
  extra: Record<string, unknown> = {},
) {
  return {
    [key]: records,
    per_page: 2000,
    total_pages: 1,
    total_entries: records.length,
    next_page: null,
    previous_page: null,
    page: 1,
    links: { first: 'x', next, previous: null, last: 'x' },
    ...extra,
  };
}

/** Deterministic PRNG (mulberry32) so simulations replay exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
