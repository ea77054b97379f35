#!/usr/bin/env -S node --max-semi-space-size=4
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { checkCommand } from './commands/check.js';
import { demoCommand } from './commands/demo.js';
import { discoverCommand } from './commands/discover.js';
import { pipelinesCommand } from './commands/pipelines.js';
import { runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { boundHeapGrowth } from '../heap.js';
import { EXIT } from './exit.js';

/** Builds the `harvest-sync` program; each command lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('harvest-sync')
    .description('Replicate a Harvest account into SQLite or PostgreSQL, and keep it current.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // commands are registered below, one line each
  program.addCommand(runCommand());
  program.addCommand(checkCommand());
  program.addCommand(discoverCommand());
  program.addCommand(demoCommand());
  program.addCommand(pipelinesCommand());
  program.addCommand(runsCommand());
  program.addCommand(serveCommand());
  program.addCommand(simulateCommand());
  // Commands built on their own do not inherit these settings from the program.
  for (const command of allCommands(program))
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => allCommands(c))];
}

async function main(argv: string[]): Promise<void> {
  boundHeapGrowth();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its one-line message (or the help/version text)
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    throw error;
  }
}

/** True when node was started on this file (directly or through the npm bin symlink), not when imported. */
function isEntryPoint(): boolean {
  const started = process.argv[1];
  if (started === undefined) return false;
  try {
    return realpathSync(started) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Imported (by tests, or to list the commands), the module only exports buildProgram.
if (isEntryPoint()) void main(process.argv);
