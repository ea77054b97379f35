import { Command } from '../commander.js';
import type { WorkerInfo } from '../../control/cluster/registry.js';
import { action } from '../exit.js';
import { addControlOptions } from '../control-flags.js';
import { table, withControl } from './pipelines.js';

const write = (text: string): void => void process.stdout.write(text + '\n');

function runsOf(worker: WorkerInfo): string {
  if (worker.runsInProgress.length === 0) return '-';
  return worker.runsInProgress
    .map((r) => `${r.pipeline ?? r.pipelineId}${r.runId === null ? '' : ` (run ${r.runId})`}`)
    .join(', ');
}

export function workersTable(workers: readonly WorkerInfo[]): string {
  return table([
    [
      'worker',
      'role',
      'status',
      'host',
      'pid',
      'version',
      'started',
      'last heartbeat',
      'max',
      'runs in progress',
    ],
    ...workers.map((w) => [
      w.id,
      w.role,
      w.status,
      w.host,
      String(w.pid),
      w.version,
      w.startedAt,
      w.lastHeartbeatAt,
      String(w.maxRuns),
      runsOf(w),
    ]),
  ]);
}

function listCommand(): Command {
  return new Command('list')
    .description('List the workers sharing this control store, with the runs each has in progress')
    .option('--json', 'print JSON')
    .action(
      action(async (flags: { json?: boolean }, self: Command) =>
        withControl(self, async (control) => {
          // pg loads only for a PostgreSQL control store's workers, not to refuse a flag
          const { listWorkers } = await import('../../control/cluster/list.js');
          const workers = await listWorkers(control);
          if (flags.json) return write(JSON.stringify({ workers }, null, 2));
          write(
            workers.length === 0
              ? control.controlStoreUrl === null
                ? 'no workers: with the SQLite control store, serve runs every pipeline itself'
                : 'no workers have joined yet (start one with `harvest-sync worker`)'
              : workersTable(workers),
          );
        }),
      ),
    );
}

/** `harvest-sync workers list`: who runs pipelines on a PostgreSQL control store. */
export function workersCommand(): Command {
  const command = addControlOptions(
    new Command('workers').description('Show the workers running pipelines on a PostgreSQL control store'),
  );
  command.addCommand(listCommand());
  return command;
}
