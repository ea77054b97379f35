import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from '../commander.js';
import { DEFAULT_OBJECTS } from '../../catalog/objects.js';
import { querySqliteFile } from '../../destinations/index.js';
import { ConfigError } from '../../errors.js';
import { startSimulator } from '../../simulator/index.js';
import { action, EXIT } from '../exit.js';
import { formatSummary } from '../progress.js';
import { runSyncJob } from '../sync-job.js';

export const DEMO_QUERIES = [
  {
    title: 'Hours per project (top 5)',
    sql: `SELECT project_name, ROUND(SUM(hours), 2) AS hours
FROM time_entries WHERE _deleted_at IS NULL
GROUP BY project_id ORDER BY hours DESC LIMIT 5;`,
  },
  {
    title: 'Unbilled billable hours per client (top 5)',
    sql: `SELECT client_name, ROUND(SUM(hours), 2) AS unbilled_hours
FROM time_entries WHERE billable = 1 AND is_billed = 0 AND _deleted_at IS NULL
GROUP BY client_id ORDER BY unbilled_hours DESC LIMIT 5;`,
  },
];

/** Starts the bundled Harvest simulator, replicates it into a fresh SQLite file and shows what landed. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('Replicate a simulated Harvest account into ./harvest-demo.db and show example queries')
    .option('--database <path>', 'SQLite file to create', './harvest-demo.db')
    .option('--scale <x>', 'account size: 1 = 10,000 time entries', '1')
    .action(
      action(async (flags: { database: string; scale: string }) => {
        const scale = Number(flags.scale);
        if (!Number.isFinite(scale) || scale <= 0 || scale > 100)
          throw new ConfigError('scale must be a number above 0 and at most 100');
        const path = resolve(flags.database);
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
        // the account was "made" at a fixed date: timers left running since would show months of hours
        const simulator = await startSimulator({ scale, rateLimit: null, timersGrow: false });
        process.stderr.write(
          `Harvest simulator listening on ${simulator.url} (account ${simulator.accountId})\n`,
        );
        try {
          const result = await runSyncJob({
            connection: {
              token: simulator.adminToken,
              accountId: simulator.accountId,
              baseUrl: simulator.url,
            },
            destinationUrl: `sqlite:${path}`,
            objects: DEFAULT_OBJECTS,
            progress: true,
          });
          process.stdout.write(formatSummary(result) + '\n\n');
          if (result.status !== 'succeeded') return EXIT.failed;
        } finally {
          await simulator.stop();
        }
        process.stdout.write(`Your replica is ${path}. Try these in \`sqlite3 ${flags.database}\`:\n`);
        for (const query of DEMO_QUERIES) {
          process.stdout.write(`\n-- ${query.title}\n${query.sql}\n`);
          for (const row of querySqliteFile(path, query.sql)) {
            process.stdout.write(`   ${Object.values(row).join('  |  ')}\n`);
          }
        }
        return EXIT.ok;
      }),
    );
}
