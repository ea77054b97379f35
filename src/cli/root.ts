import { Command } from './commander.js';

/** The `harvest-sync` program holding `commands`, each refusing bad usage the same way. */
export function programWith(commands: readonly Command[]): Command {
  const program = new Command('harvest-sync')
    .description('Replicate a Harvest account into SQLite, PostgreSQL or MySQL/MariaDB, and keep it current.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const command of commands) program.addCommand(command);
  // Commands built on their own do not inherit these settings from the program.
  for (const command of allCommands(program))
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => allCommands(c))];
}
