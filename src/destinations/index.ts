import { ConfigError } from '../errors.js';
import type { Destination } from './destination.js';
import { MysqlDestination } from './mysql/mysql-destination.js';
import { MYSQL_SCHEMES, parseMysqlUrl } from './mysql/mysql-url.js';
import { PostgresDestination } from './postgres/postgres-destination.js';
import { SqliteDestination } from './sqlite/sqlite-destination.js';

export type { Destination } from './destination.js';
export { MysqlDestination } from './mysql/mysql-destination.js';
export { PostgresDestination } from './postgres/postgres-destination.js';
export { SqliteDestination } from './sqlite/sqlite-destination.js';

/** Where data goes when no destination is given. */
export const DEFAULT_DESTINATION_URL = 'sqlite:./harvest.db';

export type DestinationTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'mysql'; readonly url: string };

const USAGE = '(use sqlite:PATH, postgres://USER@HOST/DB or mysql://USER@HOST/DB)';
const SQLITE_EXTENSIONS = /\.(db|sqlite|sqlite3)$/i;
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

function sqliteTarget(path: string): DestinationTarget {
  if (path.trim() === '') throw new ConfigError(`the SQLite path is empty ${USAGE}`);
  if (path.includes('\0')) throw new ConfigError('the SQLite path contains a NUL character');
  return { kind: 'sqlite', path };
}

/**
 * Reads a destination URL: `sqlite:PATH`, `sqlite://PATH` (so `sqlite:///abs/x.db` is `/abs/x.db`),
 * a bare path ending in .db/.sqlite/.sqlite3, `postgres://…`/`postgresql://…`, or `mysql://…`/`mariadb://…`.
 * Only the syntax is checked here; whether the place is usable is found when the destination opens.
 */
export function parseDestinationUrl(url: string = DEFAULT_DESTINATION_URL): DestinationTarget {
  const text = url.trim();
  if (text === '') throw new ConfigError(`the destination is empty ${USAGE}`);
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    return sqliteTarget(
      text.startsWith('sqlite://') ? text.slice('sqlite://'.length) : text.slice('sqlite:'.length),
    );
  }
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', url: text };
  if ((MYSQL_SCHEMES as readonly string[]).includes(scheme ?? '')) {
    parseMysqlUrl(text); // its parameters are an allow-list: refuse a wrong one before anything runs
    return { kind: 'mysql', url: text };
  }
  // A one-letter "scheme" is a Windows drive (C:\data\harvest.db), not a scheme.
  if (SQLITE_EXTENSIONS.test(text) && (scheme === undefined || scheme.length === 1))
    return sqliteTarget(text);
  if (scheme !== undefined && scheme.length > 1) {
    throw new ConfigError(`unknown destination scheme "${scheme}:" ${USAGE}`);
  }
  throw new ConfigError(`cannot tell what kind of destination "${redactUrl(text)}" is ${USAGE}`);
}

/** Makes the Destination a URL names; the caller opens it (which takes the run lock). */
export function openDestination(url: string = DEFAULT_DESTINATION_URL): Destination {
  const target = parseDestinationUrl(url);
  switch (target.kind) {
    case 'sqlite':
      return new SqliteDestination(target.path);
    case 'postgres':
      return new PostgresDestination(target.url);
    case 'mysql':
      return new MysqlDestination(target.url);
  }
}

/**
 * A destination URL fit for display: any password (in the authority or a `password=` parameter)
 * replaced by `***`. Works on text that is not a valid URL too, since that is what error messages quote.
 */
export function redactUrl(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(url);
  let text = url;
  if (match && match[1].toLowerCase() !== 'sqlite') {
    // The last @ ends the user info even when a password holds an unencoded @ or /: redacting a bit
    // too much in an odd URL is better than showing part of a password.
    const rest = match[2];
    const at = rest.lastIndexOf('@');
    const colon = rest.indexOf(':');
    if (at >= 0 && colon >= 0 && colon < at) {
      text = `${match[1]}://${rest.slice(0, colon)}:***${rest.slice(at)}`;
    }
  }
  return text.replace(/([?&](?:password|pass|pwd|sslpassword)=)[^&#]*/gi, '$1***');
}
