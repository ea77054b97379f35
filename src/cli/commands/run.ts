import { Command } from 'commander';
import { z } from 'zod';
import { sinceObjectsInWords } from '../../catalog/describe.js';
import {
  CONCURRENCY,
  DEFAULT_DESTINATION_URL,
  PER_PAGE,
  sinceField,
  wholeNumberField,
} from '../../limits.js';
import { planObjects } from '../../sync/plan.js';
import { action, EXIT } from '../exit.js';
import { addHarvestOptions, parseHarvestFlags, parseOrThrow, type HarvestFlags } from '../harvest-options.js';
import { formatSummary } from '../progress.js';
import { runSyncJob } from '../sync-job.js';

interface RunFlags extends HarvestFlags {
  destination?: string;
  objects?: string;
  since?: string;
  perPage?: string;
  concurrency?: string;
  fullRefresh?: boolean;
  json?: boolean;
}

const runFlagsSchema = z.object({
  since: sinceField('since').optional(),
  perPage: wholeNumberField('per-page', PER_PAGE).optional(),
  concurrency: wholeNumberField('concurrency', CONCURRENCY).optional(),
});

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
      const extra = parseOrThrow(runFlagsSchema, flags);
      const objects = planObjects(flags.objects === undefined ? undefined : flags.objects.split(','));
      const destinationUrl =
        flags.destination ?? process.env.HARVEST_SYNC_DESTINATION ?? DEFAULT_DESTINATION_URL;
      const result = await runSyncJob({
        connection,
        destinationUrl,
        objects,
        fullRefresh: flags.fullRefresh,
        since: extra.since,
        perPage: extra.perPage,
        concurrency: extra.concurrency,
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
