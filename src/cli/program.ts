import type { Command } from './commander.js';
import { checkCommand } from './commands/check.js';
import { demoCommand } from './commands/demo.js';
import { discoverCommand } from './commands/discover.js';
import { pipelinesCommand } from './commands/pipelines.js';
import { runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { tapCommand } from './commands/tap.js';
import { airbyteCommand } from './commands/airbyte.js';
import { workerCommand } from './commands/worker.js';
import { workersCommand } from './commands/workers.js';
import { programWith } from './root.js';

/** The whole `harvest-sync` program; each command lives in its own file under commands/. */
export function buildProgram(): Command {
  return programWith([
    runCommand(),
    checkCommand(),
    discoverCommand(),
    demoCommand(),
    pipelinesCommand(),
    runsCommand(),
    serveCommand(),
    workerCommand(),
    workersCommand(),
    simulateCommand(),
    tapCommand(),
    airbyteCommand(),
  ]);
}
