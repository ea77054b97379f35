import { accessSync, constants, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DestinationError } from '../../errors.js';

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks, before SQLite gets to report it in its own words ("unable to open database file"), that
 * a database can be created or written at `path`. The directory is never created: a mistyped path
 * should fail loudly rather than scatter databases around. WAL mode writes `-wal`/`-shm` files
 * beside the database, hence the directory must be writable too.
 */
export function checkSqlitePath(path: string): void {
  const fail = (reason: string): never => {
    throw new DestinationError(`cannot open SQLite database at ${path}: ${reason}`);
  };
  if (path.trim() === '') throw new DestinationError('cannot open SQLite database: the path is empty');
  if (path.includes('\0')) fail('the path contains a NUL character');
  const file = statOrNull(path);
  if (file?.isDirectory()) fail('it is a directory');
  if (file && !file.isFile()) fail('it is not a regular file');
  const dir = dirname(resolve(path));
  const dirStat = statOrNull(dir);
  if (!dirStat) fail(`directory ${dir} does not exist`);
  if (!dirStat?.isDirectory()) fail(`${dir} is not a directory`);
  if (!writable(dir)) fail(`directory ${dir} is not writable`);
  if (file && !writable(path)) fail('the file is read-only');
}
