import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BaseUrlPolicy } from '../../../src/control/base-url-policy.js';
import { pipelineDestinations } from '../../../src/control/destination-scope.js';
import { SecretBox } from '../../../src/control/secrets.js';
import { openSqliteControlStore } from '../../../src/control/sqlite-store.js';
import type { ControlStore } from '../../../src/control/types.js';
import { createApp } from '../../../src/server/app.js';
import type { AppDeps } from '../../../src/server/app.js';
import { Auth, memoryCredentialStore } from '../../../src/server/auth.js';
import type { CredentialStore, PasswordHash } from '../../../src/server/auth.js';
import { createLogger } from '../../../src/server/logger.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { CLI } from '../../cli/cli-helpers.js';
import { cleanEnv } from './cli-process.js';
import { TestClock } from '../../support/clock.js';

/*
 * What the security tests (test/reliability/security-*.test.ts) share: the API app in process on a
 * real SQLite control store, a clock they move by hand, and a real `serve` process; plus a "hostile
 * origin", an HTTP server that records every request it gets (a stored token must never reach it).
 */

export interface AppHarness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: ControlStore;
  readonly auth: Auth;
  readonly clock: TestClock;
  readonly dataDir: string;
  /** The API token made at start (admin scope). */
  readonly apiToken: string;
  readonly password: string;
  /** Log lines written by the app. */
  readonly logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly credentials?: CredentialStore;
  readonly baseUrls?: BaseUrlPolicy;
  readonly allowedHosts?: readonly string[];
  readonly deps?: Partial<AppDeps>;
}

/**
 * A scrypt hash of `password` at N=2^10 instead of 2^15: what these tests count is attempts, not hashing
 * cost, and a thousand logins at the real cost take minutes on a shared 2-core machine. verifyPassword
 * reads the parameters from the stored hash, so the code path is the real one.
 */
export function cheapPasswordHash(password: string): PasswordHash {
  const salt = randomBytes(16);
  const N = 1024;
  const hash = scryptSync(password.normalize('NFC'), salt, 64, { N, r: 8, p: 1 });
  return {
    algorithm: 'scrypt',
    N,
    r: 8,
    p: 1,
    keyLength: 64,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
  };
}

/** The app as serve builds it, in process; the client address comes from `x-test-client`. */
export async function appHarness(options: HarnessOptions = {}): Promise<AppHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-security-'));
  const clock = new TestClock({ start: Date.UTC(2026, 5, 1, 12), sleeps: 'ignore' });
  const store = await openSqliteControlStore({ dataDir, secrets: new SecretBox(randomBytes(32)), clock });
  const credentials = options.credentials ?? memoryCredentialStore();
  const auth = new Auth({ credentials, clock });
  const password = `admin password ${randomBytes(6).toString('hex')}`;
  credentials.writeAdminPassword(cheapPasswordHash(password));
  const apiToken = auth.rotateApiToken();
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logs.push(line) },
  });
  const app = createApp({
    store,
    auth,
    clock,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    scheduler: {
      isRunning: () => true,
      runNow: (pipelineId) =>
        store.startRun({
          pipelineId,
          trigger: 'manual',
          fullRefresh: false,
          startedAt: new Date(clock.now()).toISOString(),
        }),
      nextRunAt: () => null,
    },
    clientKey: (c) => c.req.header('x-test-client') ?? 'default-client',
    testConnection: () =>
      Promise.resolve({ ok: true, user: null, company: null, admin: true, objects: [], message: 'ok' }),
    testDestination: (url) => Promise.resolve({ ok: true, kind: null, destination: url, message: 'ok' }),
    baseUrls: options.baseUrls ?? BaseUrlPolicy.harvestOnly(),
    destinations: pipelineDestinations(dataDir),
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    ...options.deps,
  });
  return {
    app,
    store,
    auth,
    clock,
    dataDir,
    apiToken,
    password,
    logs,
    close: async () => {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read freely in tests
  readonly body: any;
}

export async function request(
  h: Pick<AppHarness, 'app'>,
  path: string,
  options: { method?: string; json?: unknown; headers?: Record<string, string>; origin?: string } = {},
): Promise<Reply> {
  const res = await h.app.request(`${options.origin ?? 'http://localhost'}${path}`, {
    method: options.method ?? 'GET',
    headers: {
      ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** An HTTP server standing for an attacker's host: answers 404 and remembers what it was sent. */
export interface HostileOrigin {
  readonly url: string;
  readonly requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  stop(): Promise<void>;
}

export async function hostileOrigin(): Promise<HostileOrigin> {
  const requests: HostileOrigin['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"nothing here"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<number | null>;
}

/** The built CLI's `serve` on a free port; resolves once it logs that it listens. */
export function startServe(
  args: readonly string[],
  env: Record<string, string> = {},
  spawnOptions: Pick<SpawnOptions, 'uid' | 'gid' | 'cwd'> = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: cleanEnv({ HARVEST_SYNC_LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...spawnOptions,
  });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'harvest-sync serve listening' && entry.url)
          resolve({
            child,
            url: entry.url,
            output: () => output,
            stop: async () => {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
              return exited;
            },
          });
      } catch {
        // the first-start banner is plain text
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}

/** POST /api/login against a running serve; the session cookie and CSRF token on success. */
export async function loginOver(
  url: string,
  password: string,
  cookies: string[] = [],
): Promise<{ status: number; cookies: string[]; csrf: string | null }> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(cookies.length ? { cookie: cookies.join('; ') } : {}),
    },
    body: JSON.stringify({ password }),
  });
  const body = (await res.json()) as { csrfToken?: string };
  const set = res.headers.getSetCookie().map((c) => c.split(';')[0]);
  return { status: res.status, cookies: set, csrf: body.csrfToken ?? null };
}

/** `pipelines create` arguments for a pipeline "acme" reading clients into sqlite:acme.db. */
export function createAcmeArgs(token: string, accountId: string, baseUrl: string): string[] {
  return [
    'pipelines',
    'create',
    '--name',
    'acme',
    '--token',
    token,
    '--account-id',
    accountId,
    '--base-url',
    baseUrl,
    '--destination',
    'sqlite:acme.db',
    '--objects',
    'clients',
  ];
}
