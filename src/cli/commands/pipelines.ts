import { Command } from '../commander.js';
import type { ConnectionTestResult } from '../../control/connection-test.js';
import { baseUrlPolicy, openControl } from '../../control/open.js';
import type { Control } from '../../control/open.js';
import { nextRunAt } from '../../control/next-run.js';
import { PipelineNotFoundError } from '../../control/store.js';
import type { ControlStore, Pipeline, Run } from '../../control/types.js';
import { sinceObjectsInWords } from '../../catalog/describe.js';
import { ConfigError, HarvestSyncError } from '../../errors.js';
import { DEFAULT_BASE_URL } from '../../harvest/base-url.js';
import { FREQUENCY_HOURS, FULL_REFRESH_HOURS, rangeInWords } from '../../limits.js';
import { presentPipeline, presentRun } from '../../server/present.js';
import {
  addBaseUrlAllowList,
  addControlOptions,
  addSqliteRoot,
  controlOptionsOf,
  type ControlFlags,
} from '../control-flags.js';
import { EXIT, action } from '../exit.js';
import { COUNT_COLUMNS, ProgressView } from '../progress.js';

/*
 * `harvest-sync pipelines …`: manage pipelines in the control store. Input is validated by the same
 * schema as the API and the UI (control/validation.ts). The token is read from --token or
 * HARVEST_ACCESS_TOKEN and never printed: output shows it masked (••••abcd).
 */

/** The allow-list of the command's flags and environment; a bad entry is a ConfigError. */
function allowList(command: Command) {
  return baseUrlPolicy({ allowBaseUrls: command.optsWithGlobals<ControlFlags>().allowBaseUrl });
}

/**
 * Opens the control store named by the flags, runs `fn`, and always closes it. Files it creates are
 * owner-only: the data directory holds the secret key and the pipelines' encrypted tokens.
 */
export async function withControl<T>(command: Command, fn: (control: Control) => Promise<T>): Promise<T> {
  const flags = command.optsWithGlobals<ControlFlags>();
  process.umask(0o077);
  const control = await openControl(controlOptionsOf(flags));
  for (const notice of control.notices) process.stderr.write(`note: ${notice}\n`);
  try {
    return await fn(control);
  } finally {
    await control.store.close();
  }
}

export async function findPipelineOrFail(store: ControlStore, ref: string): Promise<Pipeline> {
  const pipeline = await store.findPipeline(ref);
  if (!pipeline) throw new PipelineNotFoundError(ref);
  return pipeline;
}

/** A connection test that did not pass: exit 1 with its message, nothing stored. */
class ConnectionTestError extends HarvestSyncError {
  constructor(message: string) {
    super('CONNECTION_TEST_FAILED', `${message} (nothing was saved; use --skip-test to save anyway)`);
  }
}

const write = (text: string): void => void process.stdout.write(text + '\n');
const json = (value: unknown) => write(JSON.stringify(value, null, 2));

async function present(store: ControlStore, pipeline: Pipeline) {
  const last = await store.lastRun(pipeline.id);
  const next = nextRunAt(pipeline, last, Date.now());
  return presentPipeline(pipeline, last, next === null ? null : new Date(next).toISOString());
}

function describePipeline(view: Awaited<ReturnType<typeof present>>): string {
  const last = view.lastRun;
  return [
    `pipeline ${view.id}: ${view.name} (${view.enabled ? 'enabled' : 'paused'}, ${view.status})`,
    `  token            ${view.token}`,
    `  account id       ${view.accountId}`,
    `  Harvest API      ${view.baseUrl}`,
    `  destination      ${view.destination}`,
    `  runs on          ${view.host === null ? 'any worker' : `the workers of host ${view.host} (its SQLite file is there)`}`,
    `  objects          ${view.objects.join(', ')}`,
    `  frequency        every ${view.frequencyHours} hour${view.frequencyHours === 1 ? '' : 's'}`,
    `  full refresh     every ${view.fullRefreshHours} hours (last: ${view.lastFullRefreshAt ?? 'never'})`,
    `  since            ${view.since ?? 'all history'}`,
    `  last run         ${last ? `${last.id} ${last.status} at ${last.startedAt}${last.error ? `: ${last.error}` : ''}` : 'never'}`,
    `  next run         ${view.nextRunAt ?? (view.enabled ? 'now' : 'paused')}`,
  ].join('\n');
}

function describeTest(test: ConnectionTestResult): string {
  const lines = [test.message];
  for (const o of test.objects)
    if (!o.readable) lines.push(`  not readable: ${o.name}${o.reason ? ` (${o.reason})` : ''}`);
  return lines.join('\n');
}

/** Pipeline flags as the validation schema names them; only the flags given. */
function pipelineFields(
  flags: PipelineFlags,
  env: NodeJS.ProcessEnv,
  forCreate: boolean,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) fields[key] = value;
  };
  set('name', flags.name);
  // an update takes the token from the environment only with a new base URL, which needs it again
  const tokenFromEnv = forCreate || flags.baseUrl !== undefined;
  set('token', flags.token ?? (tokenFromEnv ? env.HARVEST_ACCESS_TOKEN : undefined));
  set('accountId', flags.accountId ?? (forCreate ? env.HARVEST_ACCOUNT_ID : undefined));
  set('destination', flags.destination);
  set('objects', flags.objects);
  set('frequencyHours', flags.frequency);
  set('since', flags.since === undefined ? undefined : flags.since.trim() === '' ? null : flags.since);
  set('fullRefreshHours', flags.fullRefreshHours);
  set('baseUrl', flags.baseUrl ?? (forCreate ? env.HARVEST_BASE_URL : undefined));
  if (flags.paused) set('enabled', false);
  return fields;
}

interface PipelineFlags {
  name?: string;
  token?: string;
  accountId?: string;
  destination?: string;
  objects?: string;
  frequency?: string;
  since?: string;
  fullRefreshHours?: string;
  baseUrl?: string;
  paused?: boolean;
  skipTest?: boolean;
  json?: boolean;
}

function addPipelineOptions(command: Command, forCreate: boolean): Command {
  return command
    .option('--name <name>', 'unique name, 1-255 characters')
    .option(
      '--token <token>',
      `Harvest personal access token (env HARVEST_ACCESS_TOKEN${forCreate ? '' : ', read only with --base-url, which needs the token again'})`,
    )
    .option('--account-id <id>', `Harvest account id${forCreate ? ' (env HARVEST_ACCOUNT_ID)' : ''}`)
    .option(
      '--destination <url>',
      'sqlite:PATH (inside the data dir or --sqlite-root; relative paths there), postgres://USER[:PASSWORD]@HOST/DB or mysql://USER[:PASSWORD]@HOST/DB',
    )
    .option('--frequency <hours>', `whole hours between runs, ${rangeInWords(FREQUENCY_HOURS)}`)
    .option('--objects <names>', 'comma-separated objects to sync (default: all; see `discover`)')
    .option('--since <date>', `only dated records (${sinceObjectsInWords()}) from YYYY-MM-DD`)
    .option(
      '--full-refresh-hours <hours>',
      `hours between full refreshes that capture deletions, ${rangeInWords(FULL_REFRESH_HOURS)}`,
    )
    .option(
      '--base-url <url>',
      `Harvest API root (default ${DEFAULT_BASE_URL}); another origin must be allowed with --allow-base-url`,
    )
    .option('--skip-test', 'save without testing the connection first')
    .option('--json', 'print the pipeline as JSON');
}

/**
 * The pipeline schema (zod, shared with the API) and the rules on top of it: loaded only by the
 * commands that take a pipeline's settings, so `list`, `show` or `runs` start without zod.
 */
async function pipelineRules() {
  return {
    ...(await import('../../control/validation.js')),
    ...(await import('../../control/pipeline-rules.js')),
  };
}

function createCommand(): Command {
  const command = addPipelineOptions(
    new Command('create').description('Create a pipeline (tests the connection first)'),
    true,
  ).option('--paused', 'create it paused: the scheduler leaves it alone until `resume`');
  return command.action(
    action(async (flags: PipelineFlags, self: Command) => {
      // Everything is validated before anything is stored or any request is made.
      const { parsePipelineCreate, checkNewPipeline, checkDestinationPlace } = await pipelineRules();
      const input = parsePipelineCreate(pipelineFields(flags, process.env, true));
      checkNewPipeline(input, allowList(self));
      return withControl(self, async ({ store, destinations }) => {
        checkDestinationPlace(input.destination, destinations);
        const taken = await store.findPipeline(input.name);
        if (taken && taken.name.toLowerCase() === input.name.toLowerCase())
          throw new ConfigError(`a pipeline named "${taken.name}" already exists`);
        let test: ConnectionTestResult | null = null;
        if (!flags.skipTest) {
          test = await (await import('../../control/connection-test.js')).testConnection({ ...input });
          if (!test.ok) throw new ConnectionTestError(test.message);
        }
        const pipeline = await store.createPipeline(input);
        const view = await present(store, pipeline);
        if (flags.json) json({ ...view, connectionTest: test });
        else write(`${test ? describeTest(test) + '\n' : ''}created ${describePipeline(view)}`);
        return EXIT.ok;
      });
    }),
  );
}

function updateCommand(): Command {
  const command = addPipelineOptions(
    new Command('update')
      .argument('<pipeline>', 'name or id')
      .description('Change a pipeline; only the given flags change'),
    false,
  );
  return command.action(
    action(async (ref: string, flags: PipelineFlags, self: Command) => {
      const { parsePipelineUpdate, checkPipelineChange, checkDestinationPlace } = await pipelineRules();
      const update = parsePipelineUpdate(pipelineFields(flags, process.env, false));
      if (Object.keys(update).length === 0)
        throw new ConfigError('nothing to change: give at least one option (see --help)');
      return withControl(self, async ({ store, baseUrls, destinations }) => {
        const pipeline = await findPipelineOrFail(store, ref);
        checkPipelineChange(pipeline, update, baseUrls);
        checkDestinationPlace(update.destination, destinations);
        let test: ConnectionTestResult | null = null;
        const connectionChanged =
          update.token !== undefined || update.accountId !== undefined || update.baseUrl !== undefined;
        if (connectionChanged && !flags.skipTest) {
          const secrets = await store.pipelineSecrets(pipeline.id);
          test = await (
            await import('../../control/connection-test.js')
          ).testConnection({
            token: update.token ?? secrets.token,
            accountId: update.accountId ?? pipeline.accountId,
            baseUrl: update.baseUrl ?? pipeline.baseUrl,
            objects: update.objects ?? pipeline.objects,
          });
          if (!test.ok) throw new ConnectionTestError(test.message);
        }
        const updated = await store.updatePipeline(pipeline.id, update);
        const view = await present(store, updated);
        if (flags.json) json({ ...view, connectionTest: test });
        else write(`updated ${describePipeline(view)}`);
        return EXIT.ok;
      });
    }),
  );
}

function listCommand(): Command {
  return new Command('list')
    .description('List pipelines with their last and next run')
    .option('--json', 'print JSON')
    .action(
      action(async (flags: { json?: boolean }, self: Command) =>
        withControl(self, async ({ store }) => {
          const views = await Promise.all((await store.listPipelines()).map((p) => present(store, p)));
          if (flags.json) return json(views);
          if (views.length === 0)
            return write('no pipelines yet: create one with `harvest-sync pipelines create`');
          const rows = [
            ['id', 'name', 'status', 'every', 'token', 'destination', 'last run', 'next run'],
            ...views.map((v) => [
              String(v.id),
              v.name,
              v.status,
              `${v.frequencyHours}h`,
              v.token,
              v.destination,
              v.lastRun ? `${v.lastRun.status} ${v.lastRun.startedAt}` : '-',
              v.nextRunAt ?? '-',
            ]),
          ];
          write(table(rows));
        }),
      ),
    );
}

/** A command on one pipeline named by `<pipeline>`, with --json: `fn` gets the pipeline found. */
function onePipelineCommand(
  name: string,
  description: string,
  fn: (pipeline: Pipeline, store: ControlStore, asJson: boolean) => Promise<void>,
): Command {
  return new Command(name)
    .argument('<pipeline>', 'name or id')
    .description(description)
    .option('--json', 'print JSON')
    .action(
      action(async (ref: string, flags: { json?: boolean }, self: Command) =>
        withControl(self, async ({ store }) =>
          fn(await findPipelineOrFail(store, ref), store, flags.json === true),
        ),
      ),
    );
}

function showCommand(): Command {
  return onePipelineCommand(
    'show',
    'Show a pipeline and its recent runs',
    async (pipeline, store, asJson) => {
      const view = await present(store, pipeline);
      const runs = await store.listRuns({ pipelineId: pipeline.id, limit: 5 });
      if (asJson) return json({ ...view, recentRuns: runs.map((r) => presentRun(r, pipeline.name)) });
      write(describePipeline(view));
      if (runs.length > 0) write('\nrecent runs:\n' + runsTable(runs));
    },
  );
}

function setEnabledCommand(name: 'pause' | 'resume'): Command {
  const enabled = name === 'resume';
  const description = enabled
    ? 'Let the scheduler run the pipeline again'
    : 'Stop scheduling the pipeline (a run in progress finishes)';
  return onePipelineCommand(name, description, async (pipeline, store, asJson) => {
    const view = await present(store, await store.updatePipeline(pipeline.id, { enabled }));
    if (asJson) json(view);
    else
      write(
        `${enabled ? 'resumed' : 'paused'} pipeline ${view.name}; next run: ${view.nextRunAt ?? 'none while paused'}`,
      );
  });
}

function deleteCommand(): Command {
  const description = 'Delete a pipeline and its run history (the replicated data stays in the destination)';
  return onePipelineCommand('delete', description, async (pipeline, store, asJson) => {
    const last = await store.lastRun(pipeline.id);
    if (last?.status === 'running')
      throw new ConfigError(
        `pipeline "${pipeline.name}" is running (run ${last.id}); pause it and wait for the run to end first`,
      );
    await store.deletePipeline(pipeline.id);
    if (asJson) json({ deleted: true, id: pipeline.id, name: pipeline.name });
    else
      write(
        `deleted pipeline ${pipeline.name} (${pipeline.id}); the data in ${pipeline.destination} is untouched`,
      );
  });
}

function runCommand(): Command {
  return new Command('run')
    .argument('<pipeline>', 'name or id')
    .description(
      'Run the pipeline now, in the foreground; SIGINT/SIGTERM stop it after the current batch commits',
    )
    .option('--full-refresh', 're-read everything and capture deletions, even if not due')
    .option('--json', 'print the run as JSON')
    .action(
      action(async (ref: string, flags: { fullRefresh?: boolean; json?: boolean }, self: Command) =>
        withControl(self, async ({ store, dataDir, baseUrls, destinations }) => {
          const pipeline = await findPipelineOrFail(store, ref);
          const controller = new AbortController();
          const onSignal = () => {
            if (controller.signal.aborted) process.exit(130);
            process.stderr.write(
              'stopping after the current batch commits (press Ctrl-C again to quit at once)\n',
            );
            controller.abort();
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
          const view = new ProgressView();
          let run: Run;
          try {
            run = await (
              await import('../../control/pipeline-runner.js')
            ).runPipeline(store, pipeline.id, {
              trigger: 'manual',
              dataDir,
              baseUrls,
              destinations,
              signal: controller.signal,
              ...(flags.fullRefresh ? { fullRefresh: true } : {}),
              onEvent: (event) => {
                if (event.type === 'run:started')
                  process.stderr.write(
                    `run ${event.run.id} of ${pipeline.name} started (${event.run.fullRefresh ? 'full refresh' : 'incremental'})\n`,
                  );
                else if (event.type === 'rate-limit') view.rateLimitWait(event.object, event.waitMs);
                else if (event.type.startsWith('object:') || event.type === 'schema:column-added')
                  view.onSyncEvent(event as Parameters<ProgressView['onSyncEvent']>[0]);
              },
            });
          } finally {
            view.stop();
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
          if (flags.json) json(presentRun(run, pipeline.name));
          else {
            write(runsTable([run]) + '\n\n' + objectsTable(run));
            if (run.error) process.stderr.write(`error: ${run.error}\n`);
          }
          return run.status === 'succeeded' ? EXIT.ok : EXIT.failed;
        }),
      ),
    );
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A count, or `-` where a run recorded before it was counted has none. */
const orDash = (n: number | null): string => (n === null ? '-' : String(n));

export function runsTable(runs: readonly Run[], names?: ReadonlyMap<number, string>): string {
  return table([
    [
      'run',
      ...(names ? ['pipeline'] : []),
      'status',
      'trigger',
      'kind',
      'started',
      'finished',
      'read',
      ...COUNT_COLUMNS,
      'error',
    ],
    ...runs.map((r) => [
      String(r.id),
      ...(names ? [names.get(r.pipelineId) ?? String(r.pipelineId)] : []),
      r.status,
      r.trigger,
      r.fullRefresh ? 'full' : 'incremental',
      r.startedAt,
      r.finishedAt ?? '-',
      String(r.totals.read),
      ...COUNT_COLUMNS.map((key) => orDash(r.totals[key])),
      r.error ?? '',
    ]),
  ]);
}

export function objectsTable(run: Run): string {
  if (run.objects.length === 0) return '(no object started)';
  return table([
    ['object', 'status', 'mode', 'read', ...COUNT_COLUMNS, 'calls', 'waits', 'seconds', 'reason'],
    ...run.objects.map((o) => [
      o.object,
      o.status,
      o.mode,
      String(o.read),
      ...COUNT_COLUMNS.map((key) => orDash(o[key])),
      String(o.calls),
      String(o.rateLimitWaits),
      o.seconds.toFixed(1),
      o.reason ?? '',
    ]),
  ]);
}

export function pipelinesCommand(): Command {
  const command = addSqliteRoot(
    addBaseUrlAllowList(
      addControlOptions(
        new Command('pipelines').description(
          'Manage pipelines: a Harvest account replicated into a destination on a schedule',
        ),
      ),
    ),
  );
  for (const sub of [
    createCommand(),
    listCommand(),
    showCommand(),
    updateCommand(),
    setEnabledCommand('pause'),
    setEnabledCommand('resume'),
    deleteCommand(),
    runCommand(),
  ])
    command.addCommand(sub);
  return command;
}
