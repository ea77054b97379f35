import { Command } from '../commander.js';
import { runTap, type TapArgs } from '../../singer/tap.js';

/**
 * The Singer tap: `harvest-sync tap` and the `tap-harvest-sync` bin (src/cli/tap-main.ts) are this
 * command. Its errors, usage errors included, are Singer CRITICAL log lines on stderr.
 */
export function tapCommand(name = 'tap'): Command {
  return new Command(name)
    .description(
      'Singer tap: --discover prints the catalog; otherwise SCHEMA, RECORD and STATE messages on stdout',
    )
    .option('--config <path>', 'JSON config: access_token, account_id, start_date, base_url, …')
    .option('--discover', 'print the catalog of streams (JSON Schema, keys, replication) and exit')
    .option('--catalog <path>', 'catalog whose selected streams and fields are read')
    .option('--properties <path>', 'the same, under its legacy name')
    .option('--state <path>', 'state to resume from: the value of the last STATE message')
    .configureOutput({
      outputError: (text, write) => write(`CRITICAL ${text.replace(/^error: /, '')}`),
    })
    .action(async (flags: TapArgs) => {
      process.exitCode = await runTap(flags);
    });
}
