import { Command } from '../commander.js';
import { errorTrace } from '../../airbyte/messages.js';
import {
  airbyteCheck,
  airbyteDiscover,
  airbyteRead,
  airbyteSpec,
  type AirbyteArgs,
} from '../../airbyte/source.js';

/** Usage errors too are Airbyte messages: a TRACE ERROR on stdout (config_error). */
function asTrace(command: Command): Command {
  return command.configureOutput({
    outputError: (text) => {
      const message = text.replace(/^error: /, '').trim();
      if (message.startsWith('(run with')) return;
      process.stdout.write(errorTrace(message, 'config_error', { internal: 'USAGE' }) + '\n');
    },
  });
}

function operation(name: string, description: string, run: (args: AirbyteArgs) => Promise<number>): Command {
  return asTrace(new Command(name).description(description)).action(async (flags: AirbyteArgs) => {
    process.exitCode = await run(flags);
  });
}

/**
 * The Airbyte source: `harvest-sync airbyte spec|check|discover|read`, the commands the connector
 * image's ENTRYPOINT runs (see Dockerfile). Messages on stdout, one JSON object a line.
 */
export function airbyteCommand(): Command {
  const command = asTrace(
    new Command('airbyte').description(
      'Airbyte source: spec, check, discover and read over the Airbyte protocol',
    ),
  );
  command.addCommand(operation('spec', 'print the connector specification (SPEC)', () => airbyteSpec()));
  command.addCommand(
    operation('check', 'test the token and account (CONNECTION_STATUS)', airbyteCheck).option(
      '--config <path>',
      'source configuration (JSON)',
    ),
  );
  command.addCommand(
    operation('discover', 'print the streams (CATALOG)', airbyteDiscover).option(
      '--config <path>',
      'source configuration (JSON)',
    ),
  );
  command.addCommand(
    operation('read', 'read the configured streams (RECORD, STATE, LOG, TRACE)', airbyteRead)
      .option('--config <path>', 'source configuration (JSON)')
      .option('--catalog <path>', 'configured catalog (JSON)')
      .option('--state <path>', 'state to resume from: the STATE messages last emitted (JSON list)'),
  );
  return command;
}
