import { join, resolve } from 'node:path';
import type { DestinationScope } from '../destinations/index.js';
import { CREDENTIALS_FILE, SQLITE_CONTROL_FILE } from './data-dir.js';
import { SECRET_KEY_FILE } from './secrets.js';

/** `--sqlite-root`'s environment variable. */
export const SQLITE_ROOT_ENV = 'HARVEST_SYNC_SQLITE_ROOT';

/**
 * Where saved pipelines' destinations may be: SQLite files inside `sqliteRoot` (default: the data
 * directory), relative paths resolved there, and never the data directory's own files. The daemon
 * runs as whoever started it, and a pipeline's destination may come from anyone holding an API
 * token: without a root, `sqlite:~/.ssh/x.db` (an absolute path in the home directory) or `sqlite:control.db` would be written.
 */
export function pipelineDestinations(dataDir: string, sqliteRoot?: string): DestinationScope {
  const root = resolve(sqliteRoot ?? dataDir);
  const files = [SQLITE_CONTROL_FILE, SECRET_KEY_FILE, CREDENTIALS_FILE];
  return { baseDir: root, root, reserved: files.map((file) => join(resolve(dataDir), file)) };
}
