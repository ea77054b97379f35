import { Command } from '../commander.js';
import { RunNotFoundError } from '../../control/store.js';
import { ConfigError } from '../../errors.js';
import { presentRun } from '../../server/present.js';
import { action } from '../exit.js';
import { addControlOptions } from '../control-flags.js';
import { findPipelineOrFail, objectsTable, runsTable, withControl } from './pipelines.js';

const write = (text: string): void => void process.stdout.write(text + '\n');

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 20;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > 1000)
    throw new ConfigError('limit must be a whole number from 1 to 1000');
  return Number(value);
}

function listCommand(): Command {
  return new Command('list')
    .description('List runs, newest first')
    .option('--pipeline <pipeline>', 'only the runs of this pipeline (name or id)')
    .option('--limit <n>', 'how many runs, 1-1000 (default 20)')
    .option('--json', 'print JSON')
    .action(
      action(async (flags: { pipeline?: string; limit?: string; json?: boolean }, self: Command) => {
        const limit = parseLimit(flags.limit);
        return withControl(self, async ({ store }) => {
          const pipeline =
            flags.pipeline === undefined ? undefined : await findPipelineOrFail(store, flags.pipeline);
          const runs = await store.listRuns({ pipelineId: pipeline?.id, limit });
          const names = new Map((await store.listPipelines()).map((p) => [p.id, p.name]));
          if (flags.json)
            return write(
              JSON.stringify(
                runs.map((r) => presentRun(r, names.get(r.pipelineId) ?? null)),
                null,
                2,
              ),
            );
          write(runs.length === 0 ? 'no runs yet' : runsTable(runs, names));
        });
      }),
    );
}

function showCommand(): Command {
  return new Command('show')
    .argument('<run>', 'run id')
    .description('Show a run with its per-object statistics (live while it runs)')
    .option('--json', 'print JSON')
    .action(
      action(async (ref: string, flags: { json?: boolean }, self: Command) => {
        if (!/^\d{1,15}$/.test(ref.trim()))
          throw new ConfigError('a run id is a whole number (see `runs list`)');
        return withControl(self, async ({ store }) => {
          const run = await store.getRun(Number(ref));
          if (!run) throw new RunNotFoundError(ref);
          const pipeline = await store.getPipeline(run.pipelineId);
          if (flags.json) return write(JSON.stringify(presentRun(run, pipeline?.name ?? null), null, 2));
          write(runsTable([run], new Map([[run.pipelineId, pipeline?.name ?? String(run.pipelineId)]])));
          write('\n' + objectsTable(run));
        });
      }),
    );
}

/** `harvest-sync runs list|show`: the run history kept in the control store. */
export function runsCommand(): Command {
  const command = addControlOptions(new Command('runs').description('Show the history of pipeline runs'));
  command.addCommand(listCommand());
  command.addCommand(showCommand());
  return command;
}
