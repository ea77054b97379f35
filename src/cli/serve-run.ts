import { systemClock } from '../clock.js';
import type { Cluster } from '../control/cluster/cluster.js';
import { testConnection } from '../control/connection-test.js';
import { secureDataDir } from '../control/data-dir.js';
import { openControl } from '../control/open.js';
import { Scheduler } from '../control/scheduler.js';
import { ConfigError } from '../errors.js';
import { createApp } from '../server/app.js';
import type { AppScheduler } from '../server/app.js';
import { Auth, checkNewPassword, fileCredentialStore, generateSecret } from '../server/auth.js';
import { registerClusterMetrics } from '../server/cluster-metrics.js';
import { testDestination } from '../server/destination-test.js';
import { createLogger } from '../server/logger.js';
import { createMetrics } from '../server/metrics.js';
import { RunWatch } from '../server/run-watch.js';
import { SchedulerSeam } from '../server/scheduler-adapter.js';
import { startServer } from '../server/server.js';
import { createWebUi } from '../web/ui.js';
import { logRunEvent } from './cluster-flags.js';
import { controlOptionsOf } from './control-flags.js';
import { openCluster } from './cluster-run.js';
import { bindError, type ServeOptions } from './commands/serve.js';
import { EXIT } from './exit.js';
import { stopRequested } from './signals.js';
import { packageVersion } from './version.js';

/*
 * What `serve` runs once its flags are checked (commands/serve.ts): the server, the web UI, the
 * control store and the scheduler load only here, so a bad flag is refused without them (issue 16).
 */

/** serve's flags, checked. */
export interface ServeSettings {
  readonly options: ServeOptions;
  readonly port: number;
  readonly host: string;
  readonly allowedHosts: readonly string[];
  /** Absolute. */
  readonly dataDir: string;
  readonly maxRuns?: number;
  readonly lostAfterMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

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

/** Sets the password, replaces the API token, or serves until SIGTERM or Ctrl-C. */
export async function runServe(settings: ServeSettings): Promise<number> {
  const { options, port, host, allowedHosts, dataDir } = settings;
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
  const control = await openControl({ ...controlOptionsOf(options), dataDir, clock });
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
        maxRuns: settings.maxRuns,
        lostAfterMs: settings.lostAfterMs,
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
