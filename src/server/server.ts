import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import type { AppEnv } from './middleware.js';

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, ends idle keep-alive ones, and resolves once open requests end;
   * connections still open after `graceMs` (default 10 s) are cut.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Listens on host:port (port 0: any free port). The host must be chosen by the caller: no default. */
export async function startServer(
  app: Hono<AppEnv>,
  options: { host: string; port: number },
): Promise<RunningServer> {
  const server = createAdaptorServer({ fetch: app.fetch, hostname: options.host }) as Server;
  // a slow client must not hold a connection (and the shutdown) forever
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: ({ graceMs = 10_000 } = {}) =>
      new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close((error) => {
          clearTimeout(force);
          if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
