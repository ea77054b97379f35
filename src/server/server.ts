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

/**
 * What one client may hold. A single-admin daemon serves a browser or two, a Prometheus and a few
 * scripts: connections that send nothing, trickle their headers or sit idle are closed, and past the
 * cap new connections are dropped at once, so silent sockets cannot pile up file descriptors.
 */
export interface ServerLimits {
  /** From connection to the end of the request headers (a silent socket counts from its connect). */
  readonly headersTimeoutMs: number;
  /** From connection to the end of the whole request. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection after a response. */
  readonly keepAliveTimeoutMs: number;
  /** A socket with no traffic either way, whatever the stage (e.g. a client not reading the response). */
  readonly idleTimeoutMs: number;
  /** Open connections at most. */
  readonly maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxConnections: 256,
};

/** Listens on host:port (port 0: any free port). The host must be chosen by the caller: no default. */
export async function startServer(
  app: Hono<AppEnv>,
  options: { host: string; port: number; limits?: Partial<ServerLimits>; onDrop?: () => void },
): Promise<RunningServer> {
  const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const server = createAdaptorServer({
    fetch: app.fetch,
    hostname: options.host,
    serverOptions: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // how often Node looks for requests past those timeouts (default 30 s: far too coarse)
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
  }) as Server;
  // no 'timeout' listener: Node destroys the socket
  server.setTimeout(limits.idleTimeoutMs);
  server.maxConnections = limits.maxConnections;
  if (options.onDrop) server.on('drop', options.onDrop);
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
