import { createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SimulatorError } from './errors.js';
import { launchSimulator } from './index.js';
import type { SimulatorServer } from './server.js';
import type { Simulator, SimulatorOptions, SimulatorRateLimit } from './types.js';

/*
 * Several Harvest accounts behind one origin, as Harvest serves them: each account has its own
 * data, its own tokens and its own rate limit, and a request goes to the account its
 * Harvest-Account-Id header (or `account_id` parameter) names. Each account is a whole simulator
 * on a private port; this front forwards to it, and the accounts' links point at the front.
 * Control routes (/_simulator/...) go to the account named by the same header.
 */

export interface SimulatorAccountOptions {
  readonly accountId: string;
  /** Default `sim-admin-token-<accountId>`. */
  readonly adminToken?: string;
  readonly seed?: number;
  readonly scale?: number;
}

export interface SimulatorAccounts {
  readonly url: string;
  /** One simulator per account, in the order given; their `url` is the front's. */
  readonly accounts: readonly Simulator[];
  account(accountId: string): Simulator;
  setRateLimit(rateLimit: SimulatorRateLimit | null): void;
  stop(): Promise<void>;
}

export interface SimulatorAccountsOptions {
  readonly accounts: readonly SimulatorAccountOptions[];
  readonly host?: string;
  readonly port?: number;
  /** Per account; default 100 requests / 15 s (null: none). */
  readonly rateLimit?: SimulatorRateLimit | null;
  /** Applied to every account (scale, epoch, clock...). */
  readonly common?: Omit<SimulatorOptions, 'port' | 'host' | 'accountId' | 'adminToken' | 'rateLimit'>;
}

function accountOf(req: IncomingMessage): string | null {
  const header = req.headers['harvest-account-id'];
  if (typeof header === 'string') return header.trim();
  return new URL(req.url ?? '/', 'http://simulator').searchParams.get('account_id');
}

/** Starts one simulator per account behind a single origin; resolves once it listens. */
export async function startSimulatorAccounts(options: SimulatorAccountsOptions): Promise<SimulatorAccounts> {
  const ids = options.accounts.map((a) => a.accountId);
  if (ids.length === 0) throw new SimulatorError('give at least one account');
  if (new Set(ids).size !== ids.length) throw new SimulatorError('account ids must differ');
  const servers: SimulatorServer[] = [];
  try {
    for (const account of options.accounts) {
      servers.push(
        await launchSimulator({
          ...options.common,
          host: '127.0.0.1',
          port: 0,
          accountId: account.accountId,
          adminToken: account.adminToken ?? `sim-admin-token-${account.accountId}`,
          memberToken: `sim-member-token-${account.accountId}`,
          managerToken: `sim-manager-token-${account.accountId}`,
          ...(account.seed === undefined ? {} : { seed: account.seed }),
          ...(account.scale === undefined ? {} : { scale: account.scale }),
          ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
        }),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
  const byAccount = new Map(servers.map((s) => [s.accountId, s]));
  const backends = new Map(servers.map((s) => [s.accountId, new URL(s.url)]));
  const front = new AccountFront(servers[0].accountId, backends);
  const url = await front.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  for (const server of servers) server.setPublicUrl(url);
  return {
    url,
    accounts: servers,
    account: (accountId) => {
      const server = byAccount.get(accountId);
      if (!server) throw new SimulatorError(`no simulated account ${accountId}`);
      return server;
    },
    setRateLimit: (rateLimit) => servers.forEach((s) => s.setRateLimit(rateLimit)),
    stop: async () => {
      await front.stop();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** Forwards each request to its account's simulator (an unknown account to the first, which refuses it). */
class AccountFront {
  readonly #server: Server;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #sockets = new Set<Socket>();

  constructor(
    private readonly fallback: string,
    private readonly backends: ReadonlyMap<string, URL>,
  ) {
    this.#server = createServer((req, res) => this.#forward(req, res));
    this.#server.keepAliveTimeout = 5000;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const account = accountOf(req);
    const target = this.backends.get(account ?? '') ?? (this.backends.get(this.fallback) as URL);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // a reset or cut-short answer of the account (its faults) reaches the client as one
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    const name = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${name}:${address.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
    this.#agent.destroy();
  }
}
