import { Command } from 'commander';
import { z } from 'zod';
import { planObjects } from '../../sync/plan.js';
import { action, EXIT } from '../exit.js';
import { addHarvestOptions, parseHarvestFlags, parseOrThrow, type HarvestFlags } from '../harvest-options.js';
import { formatSummary } from '../progress.js';
import { runSyncJob } from '../sync-job.js';

export const DEFAULT_DESTINATION = 'sqlite:./harvest.db';

interface RunFlags extends HarvestFlags {
  destination?: string;
  objects?: string;
  since?: string;
  perPage?: string;
  concurrency?: string;
  fullRefresh?: boolean;
  json?: boolean;
}

const isoDate = /^\d{4}-\d{2}-\d{2}$/;

const runFlagsSchema = z.object({
  since: z
    .string()
    .refine(
      (d) => isoDate.test(d) && !Number.isNaN(Date.parse(d)) && new Date(d).toISOString().startsWith(d),
      'since must be a date like 2024-01-31',
    )
    .optional(),
  perPage: z
    .string()
    .regex(/^\d+$/, 'per-page must be a whole number from 1 to 2000')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 2000, 'per-page must be a whole number from 1 to 2000')
    .optional(),
  concurrency: z
    .string()
    .regex(/^\d+$/, 'concurrency must be a whole number from 1 to 16')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 16, 'concurrency must be a whole number from 1 to 16')
    .optional(),
});

export function runCommand(): Command {
  const command = new Command('run')
    .description('Replicate the Harvest account into the destination: full history first, then what changed')
    .option(
      '--destination <url>',
      'sqlite:PATH, postgres://USER@HOST/DB[?schema=harvest] or mysql://USER@HOST/DB (env HARVEST_SYNC_DESTINATION)',
    )
    .option('--objects <names>', 'comma-separated objects to sync (default: all; see `discover`)')
    .option(
      '--since <date>',
      'only time entries, expenses, invoices and estimates dated from then on (YYYY-MM-DD)',
    )
    .option('--per-page <n>', 'records per API call, 1-2000 (default 2000, on every list)')
    .option(
      '--concurrency <n>',
      'requests in flight: objects, or date windows of a long one, sharing one rate limit (default 4)',
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
      const destinationUrl = flags.destination ?? process.env.HARVEST_SYNC_DESTINATION ?? DEFAULT_DESTINATION;
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
