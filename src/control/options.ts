import { resolve } from 'node:path';
import type { Clock } from '../clock.js';
import type { DestinationScope } from '../destinations/index.js';
import { ConfigError } from '../errors.js';
import { URL_MAX_LENGTH, pathLengthProblem } from '../limits.js';
import { ALLOWED_BASE_URLS_ENV, BaseUrlPolicy } from './base-url-policy.js';
import { SQLITE_ROOT_ENV, pipelineDestinations } from './destination-scope.js';

/*
 * The options of the control layer, checked without opening anything: `serve`, `worker` and the
 * pipelines commands refuse a bad flag before they load the store, the server or the queue (issue 16).
 */

export const DEFAULT_DATA_DIR = './.harvest-sync';

export interface ControlOptions {
  /** `--data-dir`; falls back to HARVEST_SYNC_HOME, then ./.harvest-sync. */
  readonly dataDir?: string;
  /** `--control-store`: a PostgreSQL URL; falls back to HARVEST_SYNC_CONTROL_STORE, else SQLite in the data dir. */
  readonly controlStore?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: Clock;
  /** `--allow-base-url` values; joined with HARVEST_SYNC_ALLOWED_BASE_URLS. */
  readonly allowBaseUrls?: readonly string[];
  /** `--sqlite-root`: where saved pipelines' SQLite files may be; falls back to HARVEST_SYNC_SQLITE_ROOT, then the data directory. */
  readonly sqliteRoot?: string;
}

/** The allow-list of Harvest API origins from `--allow-base-url` and the environment. Throws ConfigError. */
export function baseUrlPolicy(options: Pick<ControlOptions, 'allowBaseUrls' | 'env'> = {}): BaseUrlPolicy {
  const env = options.env ?? process.env;
  return BaseUrlPolicy.from({ flags: options.allowBaseUrls, env: env[ALLOWED_BASE_URLS_ENV] });
}

/** Where saved pipelines' destinations may be, from `--sqlite-root` and the environment. Throws ConfigError. */
export function destinationScope(
  dataDir: string,
  options: Pick<ControlOptions, 'sqliteRoot' | 'env'> = {},
): DestinationScope {
  const root = options.sqliteRoot ?? (options.env ?? process.env)[SQLITE_ROOT_ENV];
  if (root !== undefined && (root.trim() === '' || root.includes('\0')))
    throw new ConfigError('the SQLite root must be a directory path (--sqlite-root)');
  const length = root === undefined ? null : pathLengthProblem(root);
  if (length) throw new ConfigError(`the SQLite root ${length} (--sqlite-root)`);
  return pipelineDestinations(dataDir, root);
}

/** The data directory the options and environment point at, absolute. */
export function resolveDataDir(options: Pick<ControlOptions, 'dataDir' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  const dir = options.dataDir ?? env.HARVEST_SYNC_HOME ?? DEFAULT_DATA_DIR;
  if (dir.trim() === '' || dir.includes('\0')) throw new ConfigError('the data directory must be a path');
  // refused here, as a flag, rather than by the file system once the store is loading
  const length = pathLengthProblem(resolve(dir));
  if (length) throw new ConfigError(`the data directory ${length} (--data-dir or HARVEST_SYNC_HOME)`);
  return resolve(dir);
}

/** The options, checked, as openControl uses them. */
export interface CheckedControlOptions {
  readonly dataDir: string;
  /** Trimmed; null for the SQLite control store in the data directory. */
  readonly controlStoreUrl: string | null;
  readonly baseUrls: BaseUrlPolicy;
  readonly destinations: DestinationScope;
}

/**
 * Every check openControl makes before it touches the disk or the network: the data directory, the
 * control store URL, the allowed origins, the SQLite root. Throws ConfigError.
 */
export function checkControlOptions(options: ControlOptions = {}): CheckedControlOptions {
  const env = options.env ?? process.env;
  const dataDir = resolveDataDir(options);
  const url = (options.controlStore ?? env.HARVEST_SYNC_CONTROL_STORE ?? '').trim();
  if (url !== '' && !/^postgres(ql)?:\/\//.test(url))
    throw new ConfigError(
      'the control store must be a postgres:// URL (leave it unset for SQLite in the data directory)',
    );
  if (url.length > URL_MAX_LENGTH)
    throw new ConfigError(`the control store URL is too long (at most ${URL_MAX_LENGTH} characters)`);
  return {
    dataDir,
    controlStoreUrl: url === '' ? null : url,
    baseUrls: baseUrlPolicy(options),
    destinations: destinationScope(dataDir, options),
  };
}
