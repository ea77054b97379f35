import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/*
 * The data directory holds the secret key, the hashed credentials, the control store and the SQLite
 * destinations: nothing in it is for other local users. It is created owner-only (0700), and one
 * found open (made beforehand, or by an older version) is tightened — the directory to 0700, every
 * file under it to 0600 — with a note of what changed; when that is not possible (another user owns
 * it) the command stops rather than write secrets where others can read them.
 */

/** The daemon's hashed login and API-token credentials, in the data directory. */
export const CREDENTIALS_FILE = 'credentials.json';

/** The SQLite control store's file in the data directory (sqlite-store.ts). */
export const SQLITE_CONTROL_FILE = 'control.db';

const OWNER_ONLY_DIR = 0o700;
const OWNER_ONLY_FILE = 0o600;

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

function tighten(path: string, mode: number, to: number, what: string): void {
  try {
    chmodSync(path, to);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(
      `${what} ${path} is open to other users (mode ${octal(mode)}) and cannot be made owner-only (${reason}): run \`chmod ${octal(to)} ${path}\` as its owner, or choose another --data-dir`,
    );
  }
}

/**
 * Creates `dir` owner-only, or tightens it and every file and directory under it (symbolic links are
 * left alone). Returns one line per change made, for the caller to log. Throws ConfigError when a
 * change is needed and refused.
 */
export function secureDataDir(dir: string): string[] {
  let stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dir, { recursive: true, mode: OWNER_ONLY_DIR });
    chmodSync(dir, OWNER_ONLY_DIR);
    return [];
  }
  if (!stats.isDirectory()) throw new ConfigError(`the data directory ${dir} is not a directory`);
  const changes: string[] = [];
  if ((stats.mode & 0o077) !== 0) {
    tighten(dir, stats.mode, OWNER_ONLY_DIR, 'the data directory');
    changes.push(`tightened the data directory ${dir} from ${octal(stats.mode)} to ${octal(OWNER_ONLY_DIR)}`);
  }
  let files = 0;
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    const entry = lstatSync(path, { throwIfNoEntry: false });
    if (!entry || entry.isSymbolicLink() || (entry.mode & 0o077) === 0) continue;
    const to = entry.isDirectory() ? OWNER_ONLY_DIR : OWNER_ONLY_FILE;
    tighten(path, entry.mode, to, entry.isDirectory() ? 'the directory' : 'the file');
    files += 1;
  }
  if (files > 0) changes.push(`tightened ${files} file(s) under the data directory ${dir} to owner-only`);
  return changes;
}
