import { checkControlOptions } from '../../control/options.js';
import { ConfigError } from '../../errors.js';
import { LOST_AFTER_SECONDS, MAX_RUNS } from '../../limits.js';
import { NEEDS_POSTGRES, parseAccountRateLimit, parseLostAfter, parseMaxRuns } from '../cluster-flags.js';
import { Command } from '../commander.js';
import {
  addBaseUrlAllowList,
  addControlOptions,
  addSqliteRoot,
  controlOptionsOf,
  type ControlFlags,
} from '../control-flags.js';
import { action } from '../exit.js';

interface WorkerFlags extends Readonly<ControlFlags> {
  readonly maxRuns: string;
  readonly lostAfter: string;
  readonly accountRateLimit?: string;
}

/**
 * Every flag is checked before the control store, the logger or the queue load: a bad one is one
 * `error:` line, without loading pg, pg-boss or pino (issue 16; test/cli/start-path.test.ts).
 */
async function work(flags: WorkerFlags): Promise<number> {
  const maxRuns = parseMaxRuns(flags.maxRuns);
  const lostAfterMs = parseLostAfter(flags.lostAfter);
  parseAccountRateLimit(flags.accountRateLimit);
  const controlStore = flags.controlStore ?? process.env.HARVEST_SYNC_CONTROL_STORE;
  if (controlStore === undefined || controlStore.trim() === '') throw new ConfigError(NEEDS_POSTGRES);
  checkControlOptions({ ...controlOptionsOf(flags), controlStore });
  const { runWorker } = await import('../cluster-run.js');
  return runWorker({ ...flags, controlStore, maxRuns, lostAfterMs });
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
    .option(
      '--max-runs <n>',
      `runs at a time in this process (${MAX_RUNS.min}-${MAX_RUNS.max})`,
      String(MAX_RUNS.default),
    )
    .option(
      '--lost-after <seconds>',
      `a worker silent this long is taken for dead and its runs resumed elsewhere (${LOST_AFTER_SECONDS.min}-${LOST_AFTER_SECONDS.max})`,
      String(LOST_AFTER_SECONDS.default),
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
