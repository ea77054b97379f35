import { Command } from '../commander.js';
import { sinceObjectsInWords } from '../../catalog/describe.js';
import {
  CONCURRENCY,
  DEFAULT_DESTINATION_URL,
  PER_PAGE,
  checkSince,
  checkWholeNumber,
} from '../../limits.js';
import { planObjects } from '../../sync/plan.js';
import { action, EXIT } from '../exit.js';
import { addHarvestOptions, givenOrThrow, parseHarvestFlags, type HarvestFlags } from '../harvest-options.js';
import { formatSummary } from '../progress.js';

interface RunFlags extends HarvestFlags {
  destination?: string;
  objects?: string;
  since?: string;
  perPage?: string;
  concurrency?: string;
  fullRefresh?: boolean;
  json?: boolean;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('Replicate the Harvest account into the destination: full history first, then what changed')
    .option(
      '--destination <url>',
      'sqlite:PATH, postgres://USER@HOST/DB[?schema=harvest] or mysql://USER@HOST/DB (env HARVEST_SYNC_DESTINATION)',
    )
    .option('--objects <names>', 'comma-separated objects to sync (default: all; see `discover`)')
    .option('--since <date>', `only ${sinceObjectsInWords()} dated from then on (YYYY-MM-DD)`)
    .option(
      '--per-page <n>',
      `records per API call, ${PER_PAGE.min}-${PER_PAGE.max} (default ${PER_PAGE.default}, on every list)`,
    )
    .option(
      '--concurrency <n>',
      `requests in flight: objects, or date windows of a long one, sharing one rate limit, ${CONCURRENCY.min}-${CONCURRENCY.max} (default ${CONCURRENCY.default})`,
    )
    .option('--full-refresh', 're-read everything and mark records deleted in Harvest as deleted')
    .option('--json', 'print a machine-readable summary on stdout');
  addHarvestOptions(command);
  return command.action(
    action(async (flags: RunFlags) => {
      // Everything is validated before the destination is touched: bad input changes no data.
      const connection = parseHarvestFlags(flags);
      const since = givenOrThrow(flags.since, (v) => checkSince('since', v, Date.now()));
      const perPage = givenOrThrow(flags.perPage, (v) => checkWholeNumber('per-page', PER_PAGE, v));
      const concurrency = givenOrThrow(flags.concurrency, (v) =>
        checkWholeNumber('concurrency', CONCURRENCY, v),
      );
      const objects = planObjects(flags.objects === undefined ? undefined : flags.objects.split(','));
      const destinationUrl =
        flags.destination ?? process.env.HARVEST_SYNC_DESTINATION ?? DEFAULT_DESTINATION_URL;
      // the engine, the destinations and their drivers load only once the flags are good
      const { runSyncJob } = await import('../sync-job.js');
      const result = await runSyncJob({
        connection,
        destinationUrl,
        objects,
        fullRefresh: flags.fullRefresh,
        since,
        perPage,
        concurrency,
        progress: !flags.json,
      });
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(formatSummary(result) + '\n');
      if (result.status !== 'succeeded') {
        if (result.error && !flags.json) process.stderr.write(`error: ${result.error}\n`);
        return EXIT.failed;
      }
      return EXIT.ok;
    }),
  );
}
