import { ConfigError } from '../../errors.js';

/** How the connection is encrypted, from the `ssl` parameter. */
export type MysqlSsl = 'off' | 'verify' | 'no-verify';

/** A parsed `mysql://` (or `mariadb://`) destination URL. */
export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The MySQL database (schema) the tables go in; created when missing. */
  readonly database: string;
  readonly ssl: MysqlSsl;
  /** The URL without its password, for messages and logs. */
  readonly description: string;
  /** Every form the password can take in a message (raw and percent-encoded), to scrub them out. */
  readonly secrets: readonly string[];
}

export const MYSQL_SCHEMES = ['mysql', 'mariadb'] as const;
const USAGE = 'expected mysql://user[:password]@host[:port]/database';
/** Query parameters a MySQL URL may carry; any other is refused rather than silently ignored. */
const SSL_VALUES: Readonly<Record<string, MysqlSsl>> = {
  false: 'off',
  true: 'verify',
  'no-verify': 'no-verify',
};
/**
 * A plain database name: the same quoted or not, and a directory name on every platform. MySQL
 * allows more when quoted, but a name like this is what `mysql -D` and other tools take as is.
 */
const DATABASE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function parseSsl(url: URL): MysqlSsl {
  const names = [...new Set(url.searchParams.keys())];
  const unknown = names.find((name) => name !== 'ssl');
  if (unknown !== undefined) {
    throw new ConfigError(
      `unsupported MySQL URL parameter ${JSON.stringify(unknown.slice(0, 40))} (supported: ssl=true|false|no-verify)`,
    );
  }
  const values = url.searchParams.getAll('ssl');
  if (values.length > 1) throw new ConfigError('invalid MySQL URL: ssl is given more than once');
  if (values.length === 0) return 'off';
  const ssl = SSL_VALUES[values[0].toLowerCase()];
  if (ssl === undefined) throw new ConfigError('invalid MySQL URL: ssl must be true, false or no-verify');
  return ssl;
}

function parsePort(url: URL): number {
  if (url.port === '') return 3306;
  const port = Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError('invalid MySQL URL: the port must be a number from 1 to 65535');
  }
  return port;
}

function parseDatabase(url: URL): string {
  const database = decode(url.pathname.replace(/^\//, ''));
  if (database === '') throw new ConfigError(`invalid MySQL URL: it must name a database (${USAGE})`);
  if (!DATABASE_NAME.test(database)) {
    throw new ConfigError(
      `invalid MySQL database name ${JSON.stringify(database.slice(0, 80))}: ` +
        'use letters, digits, _, $ and - (at most 64 characters)',
    );
  }
  return database;
}

/**
 * Parses `mysql://user[:password]@host[:port]/database[?ssl=true|false|no-verify]` (or `mariadb://`).
 * Errors never echo the URL, which may hold a password.
 */
export function parseMysqlUrl(raw: string): MysqlTarget {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`invalid MySQL URL: ${USAGE}`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (!(MYSQL_SCHEMES as readonly string[]).includes(scheme)) {
    throw new ConfigError(`invalid MySQL URL: the scheme must be mysql:// or mariadb://`);
  }
  if (url.hash !== '') throw new ConfigError('invalid MySQL URL: a "#" must be percent-encoded (%23)');
  const host = decode(url.hostname).replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new ConfigError(`invalid MySQL URL: it has no host (${USAGE})`);
  // a path would be a local socket: the URL names a server on the network, nothing else
  if (/[/\\]/.test(host))
    throw new ConfigError('invalid MySQL URL: the host must be a server name or address, not a path');
  const user = decode(url.username);
  if (user === '') throw new ConfigError(`invalid MySQL URL: it must name a user (${USAGE})`);
  const port = parsePort(url);
  const database = parseDatabase(url);
  const ssl = parseSsl(url);
  const secrets = new Set<string>();
  if (url.password !== '') {
    secrets.add(url.password);
    secrets.add(decode(url.password));
  }
  const shown = new URL(url.toString());
  shown.password = '';
  return {
    host,
    port,
    user,
    password: decode(url.password),
    database,
    ssl,
    description: shown.toString(),
    secrets: [...secrets].sort((a, b) => b.length - a.length),
  };
}
