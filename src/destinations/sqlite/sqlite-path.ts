import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError, DestinationError } from '../../errors.js';
import { pathLengthProblem } from '../../limits.js';
import type { DestinationScope } from '../engine.js';

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Files SQLite and harvest-sync keep beside a database: never a database of their own. */
const SIDE_FILE = /(-wal|-shm|-journal|\.lock)$/i;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}
const writable = (path: string): boolean => accessible(path, constants.W_OK);

/**
 * Null when `path` can name a SQLite database; else a one-line reason. `saved`: the path is a saved
 * pipeline's, which may not climb with `..` (it comes from the API and the UI too).
 */
export function sqlitePathProblem(path: string, saved: boolean): string | null {
  if (path.trim() === '') return 'the SQLite path is empty';
  if (path.includes('\0')) return 'the SQLite path contains a NUL character';
  const length = pathLengthProblem(path);
  if (length) return `the SQLite path ${length}`;
  if (saved && path.split(/[\\/]/).includes('..')) return 'the SQLite path must not contain ".." segments';
  return null;
}

/** The path with every symbolic link of its existing part resolved; the part not created yet kept as is. */
function realPath(path: string): string {
  let existing = path;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(existing), ...rest);
    } catch {
      // A dangling link would let SQLite create its target wherever it points: treat it as outside.
      if (lstatSync(existing, { throwIfNoEntry: false })?.isSymbolicLink()) return '\0dangling';
      const parent = dirname(existing);
      if (parent === existing) return path;
      rest.unshift(basename(existing));
      existing = parent;
    }
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * `path` as a destination in `scope`: absolute, and for saved pipelines inside the root (links
 * followed), not one of the reserved files, not a side file of another database. The refusal reads
 * the same whether or not anything exists at the path, so it tells nothing about the disk outside.
 */
export function placeSqlitePath(path: string, scope: DestinationScope): string {
  const absolute = resolve(scope.baseDir, path);
  if (scope.root === undefined) return absolute;
  const root = realPath(resolve(scope.root));
  const real = realPath(absolute);
  if (!inside(root, real)) {
    throw new ConfigError(
      `the SQLite database must be inside ${scope.root} (the data directory, unless --sqlite-root names another)`,
    );
  }
  if ((scope.reserved ?? []).some((file) => realPath(resolve(file)) === real)) {
    throw new ConfigError(
      `${basename(absolute)} is harvest-sync's own file, not a destination: choose another name`,
    );
  }
  if (SIDE_FILE.test(real)) {
    throw new ConfigError(
      `${basename(absolute)} is a file SQLite keeps beside a database (-wal, -shm, -journal, .lock): choose another name`,
    );
  }
  return real;
}

/** Whether the file starts like a SQLite database; an empty file is one SQLite will make into a database. */
function isSqliteFile(path: string, size: number): boolean {
  if (size === 0) return true;
  const head = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(SQLITE_HEADER);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks, before SQLite gets to report it in its own words ("unable to open database file") and
 * before anything (the `.lock` file) is created beside it, that a database can be created or
 * written at `path`. The directory is never created: a mistyped path should fail loudly rather than
 * scatter databases around. WAL mode writes `-wal`/`-shm` files beside the database, hence the
 * directory must be writable too. An existing file that is not a SQLite database is refused.
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
  if (file && !accessible(path, constants.R_OK)) fail('the file cannot be read');
  if (file && !isSqliteFile(path, file.size)) fail('the file exists and is not a SQLite database');
}
