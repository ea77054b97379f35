import type { ControlOptions } from '../control/options.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';
import type { Command } from './commander.js';

/*
 * The control-store flags `pipelines`, `runs`, `workers` and `worker` share: declared here, apart
 * from what opens the store, so that a command can refuse a bad one before loading it (issue 16).
 */

export interface ControlFlags {
  dataDir?: string;
  controlStore?: string;
  allowBaseUrl?: string[];
  sqliteRoot?: string;
}

/** The flags as openControl and checkControlOptions take them. */
export function controlOptionsOf(flags: Readonly<ControlFlags>): ControlOptions {
  return {
    dataDir: flags.dataDir,
    controlStore: flags.controlStore,
    allowBaseUrls: flags.allowBaseUrl,
    sqliteRoot: flags.sqliteRoot,
  };
}

/** Adds --data-dir and --control-store to a command; its subcommands read them via optsWithGlobals. */
export function addControlOptions(command: Command): Command {
  return command
    .option(
      '--data-dir <path>',
      'where harvest-sync keeps its state (env HARVEST_SYNC_HOME, default ./.harvest-sync)',
    )
    .option(
      '--control-store <postgres-url>',
      'keep pipelines and runs in PostgreSQL instead of SQLite in the data dir (env HARVEST_SYNC_CONTROL_STORE)',
    );
}

/** Adds --sqlite-root: where pipelines may write SQLite files. */
export function addSqliteRoot(command: Command): Command {
  return command.option(
    '--sqlite-root <dir>',
    'pipelines may write SQLite files only inside this directory, where relative paths are resolved (env HARVEST_SYNC_SQLITE_ROOT, default the data dir)',
  );
}

/** Adds the repeatable --allow-base-url: the Harvest API origins saved pipelines may use. */
export function addBaseUrlAllowList(command: Command): Command {
  return command.option(
    '--allow-base-url <origin>',
    `let pipelines use this Harvest API origin besides ${DEFAULT_BASE_URL} (a proxy, the simulator); repeatable; env HARVEST_SYNC_ALLOWED_BASE_URLS (comma-separated)`,
    (value: string, previous: string[]) => [...previous, value],
    [],
  );
}
