import { Command } from '../commander.js';
import { createServer } from 'node:net';
import { systemClock } from '../../clock.js';
import { testConnection } from '../../control/connection-test.js';
import { secureDataDir } from '../../control/data-dir.js';
import { baseUrlPolicy, destinationScope, openControl, resolveDataDir } from '../../control/open.js';
import { Scheduler } from '../../control/scheduler.js';
import { ConfigError } from '../../errors.js';
import { DEFAULT_BASE_URL } from '../../harvest/base-url.js';
import { createApp } from '../../server/app.js';
import { Auth, checkNewPassword, fileCredentialStore, generateSecret } from '../../server/auth.js';
import { testDestination } from '../../server/destination-test.js';
import { createLogger } from '../../server/logger.js';
import { DEFAULT_ALLOWED_HOSTS, parseAllowedHost } from '../../server/hosts.js';
import { createMetrics } from '../../server/metrics.js';
import { SchedulerSeam } from '../../server/scheduler-adapter.js';
import { RunWatch } from '../../server/run-watch.js';
import type { AppScheduler } from '../../server/app.js';
import { registerClusterMetrics } from '../../server/cluster-metrics.js';
import type { Cluster } from '../../control/cluster/cluster.js';
import { logRunEvent, parseLostAfter, parseMaxRuns } from '../cluster-flags.js';
import { openCluster } from './worker.js';
import { startServer } from '../../server/server.js';
import { createWebUi } from '../../web/ui.js';
import { EXIT, action } from '../exit.js';
import { stopRequested } from '../signals.js';
import { packageVersion } from '../version.js';

interface ServeOptions {
  readonly port: string;
  readonly host: string;
  readonly dataDir?: string;
  readonly controlStore?: string;
  readonly setPassword?: boolean;
  readonly newApiToken?: boolean;
  readonly secureCookie?: boolean;
  readonly allowBaseUrl: string[];
  readonly allowedHost: string[];
  readonly sqliteRoot?: string;
  /** `--no-worker`: serve the UI and API only (PostgreSQL control store). */
  readonly worker: boolean;
  readonly maxRuns?: string;
  readonly lostAfter?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(port) || port > 65535)
    throw new ConfigError(`--port must be a port number (0-65535), not "${value}"`);
  return port;
}

/** Binds host:port and lets go at once: whether serve could listen there. */
function checkBindable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function bindError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new ConfigError(`port ${port} on ${host} is already in use (choose another with --port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EINVAL' || code === 'EAI_FAIL')
    return new ConfigError(`cannot bind to ${host}: no such local address`);
  return error;
}

/** The names a request to the bound address carries in Host: the address itself, bracketed if IPv6. */
function bindNames(host: string): string[] {
  try {
    return [parseAllowedHost(host)];
  } catch {
    return [];
  }
}

/** Logs connections dropped at the cap, at most once a minute. */
function dropWarning(logger: ReturnType<typeof createLogger>): () => void {
  let dropped = 0;
  let lastLog = 0;
  return () => {
    dropped += 1;
    if (Date.now() - lastLog < 60_000) return;
    lastLog = Date.now();
    logger.warn({ dropped }, 'connection limit reached: new connections are being dropped');
  };
}

/** Reads a password from a terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          return reject(new ConfigError('password entry cancelled'));
        }
        value = ch === '\u007f' || ch === '\b' ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The new admin password: HARVEST_SYNC_ADMIN_PASSWORD, else typed (hidden) or piped on stdin. */
async function readNewPassword(): Promise<string> {
  const fromEnv = process.env.HARVEST_SYNC_ADMIN_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY) {
    const first = await readHidden('New admin password: ');
    const second = await readHidden('Repeat it: ');
    if (first !== second) throw new ConfigError('the two passwords differ; nothing was changed');
    return first;
  }
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text.replace(/\r?\n$/, '');
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve the HTTP API and run saved pipelines on their schedules, in one process')
    .option('--port <port>', 'port to listen on', '8080')
    .option(
      '--host <address>',
      'address to bind; anything but 127.0.0.1 exposes the server to the network',
      '127.0.0.1',
    )
    .option(
      '--data-dir <dir>',
      'data directory (control.db, secret.key, credentials.json); default $HARVEST_SYNC_HOME or ./.harvest-sync',
    )
    .option(
      '--control-store <url>',
      'keep pipelines and runs in PostgreSQL instead of SQLite in the data directory',
    )
    .option('--set-password', 'set the admin password from HARVEST_SYNC_ADMIN_PASSWORD or stdin, then exit')
    .option('--new-api-token', 'replace the API token with a new one, print it once, then exit')
    .option(
      '--secure-cookie',
      'always mark the session cookie Secure (when a TLS proxy serves harvest-sync over https)',
    )
    .option(
      '--allow-base-url <origin>',
      `let saved pipelines use this Harvest API origin besides ${DEFAULT_BASE_URL} (a proxy, the simulator); repeatable; env HARVEST_SYNC_ALLOWED_BASE_URLS (comma-separated)`,
      collect,
      [],
    )
    .option(
      '--sqlite-root <dir>',
      'saved pipelines may write SQLite files only inside this directory (relative paths are resolved there); default: the data directory; env HARVEST_SYNC_SQLITE_ROOT',
    )
    .option(
      '--allowed-host <name>',
      'answer requests addressed to this host name only (checked against Host); repeatable; default: the --host address, localhost, 127.0.0.1, [::1]',
      collect,
      [],
    )
    .option('--no-worker', 'PostgreSQL control store: serve the UI and API only; run no pipeline here')
    .option('--max-runs <n>', 'PostgreSQL control store: runs at a time in this process (1-64, default 2)')
    .option(
      '--lost-after <seconds>',
      'PostgreSQL control store: a worker silent this long is taken for dead (5-3600, default 60)',
    )
    .addHelpText(
      'after',
      `
Credentials: on first start an admin password and an API token are generated and printed once.
Log in to the UI or POST /api/login with the password; send "Authorization: Bearer <token>" from
scripts and Prometheus (GET /metrics). HARVEST_SYNC_API_TOKEN (32+ characters) replaces the stored
token; HARVEST_SYNC_ADMIN_PASSWORD sets the password on first start or with --set-password.
Both are stored hashed in <data-dir>/credentials.json (mode 0600), never in clear. More API tokens,
read-only (GET routes and /metrics) or admin, are made and revoked in the UI or with /api/tokens.`,
    )
    .action(action(serve));
}

async function serve(options: ServeOptions): Promise<number> {
  const port = parsePort(options.port);
  const host = options.host.trim();
  if (host === '' || host.length > 253) throw new ConfigError('--host must be an address such as 127.0.0.1');
  const allowedHosts =
    options.allowedHost.length > 0
      ? options.allowedHost.map(parseAllowedHost)
      : [...new Set([...bindNames(host), ...DEFAULT_ALLOWED_HOSTS])];
  // checked before anything is written, like every other flag
  baseUrlPolicy({ allowBaseUrls: options.allowBaseUrl });
  destinationScope(resolveDataDir({ dataDir: options.dataDir }), { sqliteRoot: options.sqliteRoot });
  if (options.maxRuns !== undefined) parseMaxRuns(options.maxRuns);
  if (options.lostAfter !== undefined) parseLostAfter(options.lostAfter);
  const pgStore = (options.controlStore ?? process.env.HARVEST_SYNC_CONTROL_STORE ?? '').trim() !== '';
  if (!pgStore && (!options.worker || options.maxRuns !== undefined || options.lostAfter !== undefined))
    throw new ConfigError(
      '--no-worker, --max-runs and --lost-after need a PostgreSQL control store (--control-store); with SQLite, serve runs every pipeline itself',
    );
  // a bad --host or a taken --port is refused before the data directory or credentials are written
  if (!options.setPassword && !options.newApiToken)
    await checkBindable(host, port).catch((error: unknown) => {
      throw bindError(error, host, port);
    });
  const dataDir = resolveDataDir({ dataDir: options.dataDir });
  // every file serve creates (credentials, key, control store, SQLite destinations) is owner-only
  process.umask(0o077);
  const envToken = process.env.HARVEST_SYNC_API_TOKEN;
  const auth = new Auth({
    credentials: fileCredentialStore(dataDir),
    apiToken: envToken === undefined || envToken === '' ? undefined : envToken,
    secureCookie: options.secureCookie ? true : 'auto',
  });

  if (options.setPassword) {
    const password = await readNewPassword();
    checkNewPassword(password);
    for (const notice of secureDataDir(dataDir)) process.stderr.write(`note: ${notice}\n`);
    await auth.setAdminPassword(password);
    process.stdout.write(
      'admin password set; every session ended, in a running serve too (log in again with the new password)\n',
    );
    return EXIT.ok;
  }
  if (options.newApiToken) {
    for (const notice of secureDataDir(dataDir)) process.stderr.write(`note: ${notice}\n`);
    process.stdout.write(`new API token (shown only this once): ${auth.rotateApiToken()}\n`);
    return EXIT.ok;
  }

  const logger = createLogger();
  const stopping = stopRequested();
  const clock = systemClock;
  const metrics = createMetrics();
  const control = await openControl({
    dataDir,
    controlStore: options.controlStore,
    clock,
    allowBaseUrls: options.allowBaseUrl,
    sqliteRoot: options.sqliteRoot,
  });
  const store = control.store;
  for (const notice of control.notices) logger.warn({ dataDir }, notice);
  // only now that the store opened: a start refused for bad input writes no credentials
  // The generated secrets are written to stdout once, never through the logger.
  const firstStart: string[] = [];
  try {
    if (!auth.hasAdminPassword()) {
      const fromEnv = process.env.HARVEST_SYNC_ADMIN_PASSWORD;
      if (fromEnv !== undefined && fromEnv !== '') {
        await auth.setAdminPassword(fromEnv);
        firstStart.push('admin password set from HARVEST_SYNC_ADMIN_PASSWORD');
      } else {
        const password = generateSecret(18);
        await auth.setAdminPassword(password);
        firstStart.push(
          `admin password (generated, shown only this once): ${password}`,
          '  change it with: harvest-sync serve --set-password   (reads stdin or HARVEST_SYNC_ADMIN_PASSWORD)',
        );
      }
    }
    if (!auth.hasApiToken()) {
      firstStart.push(
        `API token (generated, shown only this once): ${auth.rotateApiToken()}`,
        '  send it as "Authorization: Bearer <token>"; replace it with: harvest-sync serve --new-api-token',
      );
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  if (firstStart.length > 0) process.stdout.write(`\nharvest-sync first start\n${firstStart.join('\n')}\n\n`);
  // one watch of runs for every event stream; this process's own runs nudge it as they go
  const runWatch = new RunWatch({
    store,
    onError: (message) => logger.warn({ error: message }, 'run events: reading the control store failed'),
  });
  let scheduler: AppScheduler & { start(): Promise<void>; stop(): Promise<void> };
  let cluster: Cluster | null = null;
  if (control.controlStoreUrl !== null) {
    try {
      cluster = await openCluster(control, {
        role: 'serve',
        work: options.worker,
        maxRuns: options.maxRuns === undefined ? undefined : parseMaxRuns(options.maxRuns),
        lostAfterMs: options.lostAfter === undefined ? undefined : parseLostAfter(options.lostAfter),
        logger,
        onEvent: (event) => {
          metrics.observe(event);
          runWatch.observe(event);
        },
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    registerClusterMetrics(metrics.registry, cluster);
    scheduler = cluster;
  } else {
    scheduler = new SchedulerSeam(
      new Scheduler({
        store,
        dataDir: control.dataDir,
        clock,
        baseUrls: control.baseUrls,
        destinations: control.destinations,
        onEvent: (event) => {
          metrics.observe(event);
          logRunEvent(logger, event);
          runWatch.observe(event);
        },
        onError: (message) => logger.error({ error: message }, 'scheduler problem'),
      }),
      clock,
    );
  }

  const app = createApp({
    store,
    scheduler,
    auth,
    metrics,
    logger,
    clock,
    version: packageVersion(),
    baseUrls: control.baseUrls,
    allowedHosts,
    testConnection: (input) => testConnection(input),
    testDestination: (url) => testDestination(url, control.destinations),
    destinations: control.destinations,
    ...(cluster ? { workers: () => (cluster as Cluster).listWorkers() } : {}),
    runWatch,
  });
  // the web UI: pages and assets at /, a thin client of the API above (mounted after it, behind its middleware)
  app.route('/', createWebUi());
  let server;
  try {
    server = await startServer(app, { host, port, onDrop: dropWarning(logger) });
  } catch (error) {
    await store.close();
    throw bindError(error, host, port);
  }
  if (!LOOPBACK.has(host)) {
    logger.warn(
      { host },
      'listening on a non-loopback address: the API is reachable from the network; serve it over TLS',
    );
    if (options.allowedHost.length === 0)
      logger.warn(
        { allowedHosts },
        'requests are answered only when their Host is one of these names: add yours with --allowed-host',
      );
  }
  if (control.baseUrls.origins.length > 1)
    logger.info({ origins: control.baseUrls.origins }, 'saved pipelines may use these Harvest API origins');
  await scheduler.start();
  logger.info(
    { url: server.url, dataDir: control.dataDir, controlStore: store.kind },
    'harvest-sync serve listening',
  );

  const signal = await stopping;
  logger.info({ signal }, 'shutting down: running syncs stop after their current batch');
  // event streams end now, or they would hold the server open until its grace period ends
  runWatch.close();
  const closing = server.close();
  await scheduler.stop();
  await closing;
  await store.close();
  logger.info('stopped');
  return EXIT.ok;
}
