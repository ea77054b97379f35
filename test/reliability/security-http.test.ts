import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { safeNext } from '../../src/web/client/next.js';
import { appHarness, request, startServe } from './support/security.js';
import type { AppHarness, ServeProcess } from './support/security.js';

/*
 * Issue 15, what a hostile visitor found at the HTTP layer: a login page that sent the browser to
 * another site after login (`next=/%09/evil.example`), no Host check (a DNS-rebinding page could reach
 * health and login), HEAD on health answered 401, and idle sockets never closed (20,000 silent
 * connections held 16,800 file descriptors).
 */

const APP = 'http://127.0.0.1:8080';

describe('the login page only sends the browser back into this app', () => {
  const cases: Array<[string | null, string]> = [
    ['/pipelines/7', '/pipelines/7'],
    ['/runs/3?tab=objects#top', '/runs/3?tab=objects#top'],
    [null, '/'],
    ['', '/'],
    ['//evil.example', '/'],
    ['/\t/evil.example', '/'],
    ['/\n/evil.example', '/'],
    ['/\\evil.example', '/'],
    ['\\\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['http://127.0.0.1:8080.evil.example/', '/'],
    ['javascript:alert(1)', '/'],
    ['data:text/html,<script>alert(1)</script>', '/'],
    ['/%2F/evil.example', '/%2F/evil.example'],
    [`${APP}/pipelines/2`, '/pipelines/2'],
    ['pipelines', '/pipelines'],
  ];
  for (const [next, expected] of cases) {
    it(`next=${JSON.stringify(next)} → ${expected}`, () => {
      expect(safeNext(next, APP)).toBe(expected);
    });
  }
  it('decodes the query as the browser does: /login?next=/%09/evil.example stays home', () => {
    const next = new URLSearchParams('next=/%09/evil.example').get('next');
    expect(safeNext(next, APP)).toBe('/');
    // what the old check let through, and where the browser would then have gone
    expect(/^\/(?![/\\])/.test(next!)).toBe(true);
    expect(new URL(next!, APP).host).toBe('evil.example');
  });
});

describe('the Host header', () => {
  let h: AppHarness;
  beforeEach(async () => {
    h = await appHarness();
  });
  afterEach(() => h.close());

  it('is checked on every request, health and login included: 421 JSON for a name not served', async () => {
    for (const [method, path] of [
      ['GET', '/api/health'],
      ['POST', '/api/login'],
      ['GET', '/login'],
      ['GET', '/metrics'],
    ]) {
      const res = await request(h, path, {
        method,
        origin: 'http://rebound.evil.example:8080',
        json: method === 'POST' ? { password: h.password } : undefined,
      });
      expect(res.status, path).toBe(421);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.error.message).toMatch(/--allowed-host/);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    for (const origin of ['http://localhost:8080', 'http://127.0.0.1:8080', 'http://[::1]:8080']) {
      expect((await request(h, '/api/health', { origin })).status, origin).toBe(200);
    }
  });

  it('uses the names given instead of the defaults', async () => {
    const named = await appHarness({ allowedHosts: ['sync.example.com'] });
    try {
      expect((await request(named, '/api/health', { origin: 'https://SYNC.example.com' })).status).toBe(200);
      expect((await request(named, '/api/health', { origin: 'http://localhost:8080' })).status).toBe(421);
    } finally {
      await named.close();
    }
  });
});

describe('HEAD', () => {
  it('is allowed wherever GET is public, and needs credentials wherever GET does', async () => {
    const h = await appHarness();
    try {
      const health = await request(h, '/api/health', { method: 'HEAD' });
      expect(health.status).toBe(200);
      expect(health.text).toBe('');
      expect((await request(h, '/api/pipelines', { method: 'HEAD' })).status).toBe(401);
      expect((await request(h, '/metrics', { method: 'HEAD' })).status).toBe(401);
    } finally {
      await h.close();
    }
  });
});

/** Opens `count` TCP connections that never send a byte; resolves once all are open (or refused). */
async function silentSockets(port: number, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => undefined);
          // read, so the server's FIN is seen and the socket ends
          socket.resume();
          socket.once('connect', () => resolve(socket));
          socket.once('close', () => resolve(socket));
        }),
    ),
  );
  return sockets;
}

const open = (sockets: readonly Socket[]) => sockets.filter((s) => !s.destroyed && !s.readableEnded).length;

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

describe('server limits', () => {
  let h: AppHarness;
  let server: RunningServer;
  beforeAll(async () => {
    h = await appHarness({ allowedHosts: ['127.0.0.1'] });
    server = await startServer(h.app, {
      host: '127.0.0.1',
      port: 0,
      limits: {
        headersTimeoutMs: 400,
        requestTimeoutMs: 800,
        idleTimeoutMs: 400,
        keepAliveTimeoutMs: 300,
        maxConnections: 40,
      },
    });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 100 });
    await h?.close();
  });

  it('holds at most the connection cap of silent sockets, and closes them after the header timeout', async () => {
    const sockets = await silentSockets(server.port, 200);
    // the server drops what is above the cap at once
    await waitUntil(() => open(sockets) <= 40, 2000);
    expect(open(sockets)).toBeGreaterThan(0);
    const ms = await waitUntil(() => open(sockets) === 0, 3000);
    expect(ms).toBeLessThan(3000);
    // and then serves again
    const res = await fetch(`${server.url}/api/health`);
    expect(res.status).toBe(200);
    for (const s of sockets) s.destroy();
  });

  /** A raw connection: what it was sent back, and when the server closed it. */
  function rawConnection(): { socket: Socket; received: () => string; closedAfter: () => Promise<number> } {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const started = Date.now();
    const closed = new Promise<number>((resolve) =>
      socket.once('close', () => resolve(Date.now() - started)),
    );
    return { socket, received: () => received, closedAfter: () => closed };
  }

  it('closes a connection that trickles its headers a byte at a time', async () => {
    const raw = rawConnection();
    raw.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // one byte every 50 ms: never idle long enough for the idle timeout, so only the header timeout ends it
    const drip = setInterval(() => raw.socket.writable && raw.socket.write('a'), 50);
    const ms = await raw.closedAfter();
    clearInterval(drip);
    expect(ms).toBeLessThan(2000);
    expect(raw.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const raw = rawConnection();
    raw.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    const ms = await raw.closedAfter();
    expect(raw.received()).toMatch(/^HTTP\/1\.1 200/);
    // Node's own default is 5 s
    expect(ms).toBeLessThan(3000);
  });
});

describe('serve itself', () => {
  let dataDir: string;
  let serve: ServeProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'hs-http-serve-'));
  });
  afterAll(async () => {
    await serve?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('holds a bounded number of file descriptors whatever the silent connections, and answers after', async () => {
    serve = await startServe(['--data-dir', dataDir], {
      HARVEST_SYNC_ADMIN_PASSWORD: 'a long enough password',
    });
    const fds = () => readdirSync(`/proc/${serve!.child.pid}/fd`).length;
    const before = fds();
    const sockets = await silentSockets(Number(new URL(serve.url).port), 3000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const during = fds();
    for (const s of sockets) s.destroy();
    expect(during - before).toBeLessThanOrEqual(260);
    await waitUntil(() => fds() <= before + 5, 5000);
    const health = await fetch(`${serve.url}/api/health`);
    expect(health.status).toBe(200);
    console.info(`serve: ${before} fds idle, ${during} with 3,000 silent connections open (cap 256)`);
  });

  it('answers only for the names of --allowed-host', async () => {
    await serve?.stop();
    serve = await startServe(['--data-dir', dataDir, '--allowed-host', 'sync.example.com'], {
      HARVEST_SYNC_ADMIN_PASSWORD: 'a long enough password',
    });
    const port = Number(new URL(serve.url).port);
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: '/api/health', headers: { host } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await get('sync.example.com')).toBe(200);
    expect(await get(`sync.example.com:${port}`)).toBe(200);
    expect(await get('127.0.0.1')).toBe(421);
    expect(await get('rebound.evil.example')).toBe(421);
  });
});
