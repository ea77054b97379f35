#!/usr/bin/env -S node --max-semi-space-size=4
import { CommanderError } from './commander.js';
import { boundHeapGrowth } from '../heap.js';
import { tapCommand } from './commands/tap.js';
import { EXIT } from './exit.js';

/** The `tap-harvest-sync` bin: the Singer tap under the name Meltano and other runners expect. */
async function main(argv: string[]): Promise<void> {
  boundHeapGrowth();
  const program = tapCommand('tap-harvest-sync').version('0.1.0').exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}

void main(process.argv);
