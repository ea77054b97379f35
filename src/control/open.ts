import { resolve } from 'node:path';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import { URL_MAX_LENGTH, pathLengthProblem } from '../limits.js';
import { ALLOWED_BASE_URLS_ENV, BaseUrlPolicy } from './base-url-policy.js';
import { secureDataDir } from './data-dir.js';
import { SQLITE_ROOT_ENV, pipelineDestinations } from './destination-scope.js';
import type { DestinationScope } from '../destinations/index.js';
import { openPostgresControlStore } from './postgres-store.js';
import { SecretBox, loadSecretKey } from './secrets.js';
import { openSqliteControlStore } from './sqlite-store.js';
import type { ControlStore } from './types.js';

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

/** What every consumer of the control layer holds: the store, and the directory relative paths live in. */
export interface Control {
  readonly store: ControlStore;
  /** Absolute. Holds control.db (SQLite), secret.key, and relative `sqlite:` destinations. */
  readonly dataDir: string;
  /** Where saved pipelines may send their token (checked on save and on every run). */
  readonly baseUrls: BaseUrlPolicy;
  /** Where saved pipelines' destinations may be (SQLite files inside `--sqlite-root`). */
  readonly destinations: DestinationScope;
  /** What was tightened in the data directory on the way in (one line each), for the caller to log. */
  readonly notices: readonly string[];
  /** The PostgreSQL control store's URL (workers share it: cluster/); null for SQLite. */
  readonly controlStoreUrl: string | null;
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
  return resolve(dir);
}

/**
 * Opens the control store (running migrations) with the secret key loaded (or created on first
 * start), after making the data directory owner-only (data-dir.ts). Throws ConfigError for a bad key,
 * URL or allowed origin, or a data directory open to others that cannot be tightened;
 * ControlStoreError when the database fails.
 */
export async function openControl(options: ControlOptions = {}): Promise<Control> {
  const env = options.env ?? process.env;
  const dataDir = resolveDataDir(options);
  const url = options.controlStore ?? env.HARVEST_SYNC_CONTROL_STORE;
  const postgres = url !== undefined && url.trim() !== '';
  // checked before the key is loaded, which creates the data directory: bad input leaves nothing behind
  if (postgres && !/^postgres(ql)?:\/\//.test(url.trim()))
    throw new ConfigError(
      'the control store must be a postgres:// URL (leave it unset for SQLite in the data directory)',
    );
  if (postgres && url.length > URL_MAX_LENGTH)
    throw new ConfigError(`the control store URL is too long (at most ${URL_MAX_LENGTH} characters)`);
  const baseUrls = baseUrlPolicy(options);
  const destinations = destinationScope(dataDir, options);
  const notices = secureDataDir(dataDir);
  const secrets = new SecretBox(loadSecretKey({ dataDir, env }));
  const store = postgres
    ? await openPostgresControlStore({ url: url.trim(), secrets, clock: options.clock })
    : await openSqliteControlStore({ dataDir, secrets, clock: options.clock });
  return {
    store,
    dataDir,
    baseUrls,
    destinations,
    notices,
    controlStoreUrl: postgres ? url.trim() : null,
  };
}
