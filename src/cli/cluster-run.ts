import { clockFromEnv } from '../clock.js';
import { openControl } from '../control/open.js';
import type { Control } from '../control/open.js';
import type { RunnerEvent } from '../control/pipeline-runner.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../server/logger.js';
import { NEEDS_POSTGRES, logRunEvent, parseAccountRateLimit } from './cluster-flags.js';
import { controlOptionsOf } from './control-flags.js';
import { EXIT } from './exit.js';
import { stopRequested } from './signals.js';
import { packageVersion } from './version.js';

/*
 * What `worker` runs, and how `serve` joins the workers, once their flags are checked
 * (commands/worker.ts, commands/serve.ts): the control store, the logger and the queue load only here.
 */

/** The Cluster module (and pg-boss) is loaded only here: the SQLite setup never loads it. */
export async function openCluster(
  control: Control,
  options: {
    role: 'worker' | 'serve';
    work: boolean;
    maxRuns?: number;
    lostAfterMs?: number;
    accountRateLimit?: string;
    logger: ReturnType<typeof createLogger>;
    onEvent?: (event: RunnerEvent) => void;
  },
) {
  if (control.controlStoreUrl === null) throw new ConfigError(NEEDS_POSTGRES);
  const { Cluster } = await import('../control/cluster/cluster.js');
  const { logger } = options;
  return Cluster.open({
    url: control.controlStoreUrl,
    store: control.store,
    dataDir: control.dataDir,
    role: options.role,
    work: options.work,
    maxRuns: options.maxRuns,
    lostAfterMs: options.lostAfterMs,
    rateLimit: parseAccountRateLimit(options.accountRateLimit ?? process.env.HARVEST_SYNC_ACCOUNT_RATE_LIMIT),
    version: packageVersion(),
    baseUrls: control.baseUrls,
    destinations: control.destinations,
    clock: clockFromEnv(),
    onEvent: (event) => {
      logRunEvent(logger, event);
      options.onEvent?.(event);
    },
    onError: (message) => logger.error({ error: message }, 'worker problem'),
    onNotice: (message, fields) => logger.warn(fields, message),
  });
}

export interface WorkerSettings {
  readonly dataDir?: string;
  readonly controlStore: string;
  readonly allowBaseUrl?: string[];
  readonly sqliteRoot?: string;
  readonly maxRuns: number;
  readonly lostAfterMs: number;
  readonly accountRateLimit?: string;
}

/** Runs a worker until SIGTERM or Ctrl-C, then drains. Its settings are checked already. */
export async function runWorker(settings: WorkerSettings): Promise<number> {
  const { maxRuns, lostAfterMs } = settings;
  const logger = createLogger();
  const stopping = stopRequested();
  process.umask(0o077);
  const control = await openControl(controlOptionsOf(settings));
  for (const notice of control.notices) logger.warn({ dataDir: control.dataDir }, notice);
  let cluster;
  try {
    cluster = await openCluster(control, {
      role: 'worker',
      work: true,
      maxRuns,
      lostAfterMs,
      accountRateLimit: settings.accountRateLimit,
      logger,
    });
    await cluster.start();
  } catch (error) {
    await control.store.close();
    throw error;
  }
  logger.info(
    { worker: cluster.id, maxRuns, lostAfterSeconds: lostAfterMs / 1000 },
    'harvest-sync worker started',
  );
  const signal = await stopping;
  logger.info(
    { signal },
    'draining: runs in progress stop after their current batch and go back to the queue',
  );
  await cluster.stop();
  await control.store.close();
  logger.info('stopped');
  return EXIT.ok;
}
