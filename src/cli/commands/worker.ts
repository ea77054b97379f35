import { Command } from '../commander.js';
import { clockFromEnv } from '../../clock.js';
import { openControl } from '../../control/open.js';
import type { RunnerEvent } from '../../control/pipeline-runner.js';
import type { Control } from '../../control/open.js';
import { ConfigError } from '../../errors.js';
import { createLogger } from '../../server/logger.js';
import { logRunEvent, parseAccountRateLimit, parseLostAfter, parseMaxRuns } from '../cluster-flags.js';
import { EXIT, action } from '../exit.js';
import { stopRequested } from '../signals.js';
import { addBaseUrlAllowList, addControlOptions, addSqliteRoot } from './pipelines.js';
import { packageVersion } from '../version.js';

interface WorkerFlags {
  readonly dataDir?: string;
  readonly controlStore?: string;
  readonly allowBaseUrl?: string[];
  readonly sqliteRoot?: string;
  readonly maxRuns: string;
  readonly lostAfter: string;
  readonly accountRateLimit?: string;
}

/** Why a worker needs PostgreSQL: the queue, heartbeats and rate budget live there. */
export const NEEDS_POSTGRES =
  'workers share a PostgreSQL control store: give --control-store postgres://... (or HARVEST_SYNC_CONTROL_STORE); with the SQLite control store, `serve` runs every pipeline itself';

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
  const { Cluster } = await import('../../control/cluster/cluster.js');
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

async function work(flags: WorkerFlags): Promise<number> {
  const maxRuns = parseMaxRuns(flags.maxRuns);
  const lostAfterMs = parseLostAfter(flags.lostAfter);
  parseAccountRateLimit(flags.accountRateLimit);
  const controlStore = flags.controlStore ?? process.env.HARVEST_SYNC_CONTROL_STORE;
  if (controlStore === undefined || controlStore.trim() === '') throw new ConfigError(NEEDS_POSTGRES);
  const logger = createLogger();
  const stopping = stopRequested();
  process.umask(0o077);
  const control = await openControl({
    dataDir: flags.dataDir,
    controlStore,
    allowBaseUrls: flags.allowBaseUrl,
    sqliteRoot: flags.sqliteRoot,
  });
  for (const notice of control.notices) logger.warn({ dataDir: control.dataDir }, notice);
  let cluster;
  try {
    cluster = await openCluster(control, {
      role: 'worker',
      work: true,
      maxRuns,
      lostAfterMs,
      accountRateLimit: flags.accountRateLimit,
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

export function workerCommand(): Command {
  return addSqliteRoot(
    addBaseUrlAllowList(
      addControlOptions(
        new Command('worker').description(
          'Run pipeline runs taken from the queue of a PostgreSQL control store, beside any number of other workers and serve processes',
        ),
      ),
    ),
  )
    .option('--max-runs <n>', 'runs at a time in this process (1-64)', '2')
    .option(
      '--lost-after <seconds>',
      'a worker silent this long is taken for dead and its runs resumed elsewhere (5-3600)',
      '60',
    )
    .option(
      '--account-rate-limit <requests/seconds>',
      "requests per window every worker together sends to one Harvest account (env HARVEST_SYNC_ACCOUNT_RATE_LIMIT; default Harvest's 100/15)",
    )
    .addHelpText(
      'after',
      `
SIGTERM (or Ctrl-C) drains: runs in progress commit their current batch, go back to the queue and
resume on another worker. A worker killed outright is noticed by the others after --lost-after.`,
    )
    .action(action(work));
}
