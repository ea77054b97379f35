#!/usr/bin/env -S node --max-semi-space-size=4
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommanderError } from './commander.js';
import type { Command } from './commander.js';
import { boundHeapGrowth } from '../heap.js';
import { EXIT } from './exit.js';
import { programWith } from './root.js';

/**
 * Each command's module, loaded only when that command runs, so that `harvest-sync run` does not
 * load the HTTP server, the web UI or the control store (about half of the start-up time).
 */
export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => (await import('./commands/run.js')).runCommand(),
  check: async () => (await import('./commands/check.js')).checkCommand(),
  discover: async () => (await import('./commands/discover.js')).discoverCommand(),
  demo: async () => (await import('./commands/demo.js')).demoCommand(),
  pipelines: async () => (await import('./commands/pipelines.js')).pipelinesCommand(),
  runs: async () => (await import('./commands/runs.js')).runsCommand(),
  serve: async () => (await import('./commands/serve.js')).serveCommand(),
  simulate: async () => (await import('./commands/simulate.js')).simulateCommand(),
  tap: async () => (await import('./commands/tap.js')).tapCommand(),
  airbyte: async () => (await import('./commands/airbyte.js')).airbyteCommand(),
  worker: async () => (await import('./commands/worker.js')).workerCommand(),
  workers: async () => (await import('./commands/workers.js')).workersCommand(),
};

/** The whole program (every command loaded): for help, unknown commands, and tests. */
export async function loadProgram(): Promise<Command> {
  return (await import('./program.js')).buildProgram();
}

/** The program for `harvest-sync NAME …`: only that command when NAME is one, else the whole. */
async function programFor(name: string | undefined): Promise<Command> {
  if (name === '--version' || name === '-V') return programWith([]);
  const load = name !== undefined && Object.hasOwn(COMMAND_LOADERS, name) ? COMMAND_LOADERS[name] : undefined;
  return load ? programWith([await load()]) : loadProgram();
}

async function main(argv: string[]): Promise<void> {
  boundHeapGrowth();
  const program = await programFor(argv[2]);
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

// Imported (by tests, or to list the commands), the module only exports what is above.
if (isEntryPoint()) void main(process.argv);
