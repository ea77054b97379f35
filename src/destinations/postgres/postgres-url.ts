import { ConfigError } from '../../errors.js';

/** A parsed `postgres://` destination URL. */
export interface PostgresTarget {
  /** What pg connects with: the URL as given, minus our own `schema` parameter. */
  readonly connectionString: string;
  /** Where the tables go. */
  readonly schema: string;
  /** The URL without its password, for messages and logs. */
  readonly description: string;
  /** host:port and database, named in connection errors. */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Every form the password can take in a message (raw and percent-encoded), to scrub them out. */
  readonly secrets: readonly string[];
}

export const DEFAULT_SCHEMA = 'harvest';

/**
 * A plain identifier, so the schema means the same quoted or not (`harvest.time_entries` in psql
 * finds it), and at most 63 bytes because PostgreSQL silently truncates longer names.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function validateSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConfigError(
      `invalid PostgreSQL schema ${JSON.stringify(schema)}: use lower-case letters, digits and _ ` +
        '(not starting with a digit, at most 63 characters)',
    );
  }
  // CREATE SCHEMA refuses these: they are reserved for the server's own schemas.
  if (schema.startsWith('pg_')) {
    throw new ConfigError(`invalid PostgreSQL schema "${schema}": names starting with pg_ are reserved`);
  }
  return schema;
}

/**
 * Query parameters a PostgreSQL URL may carry. pg reads many more from the URL (sslrootcert and
 * sslkey read local files, host= switches to a local socket, options= sets server settings), and a
 * saved pipeline's URL comes from the API: anything not listed here is refused, not passed on.
 */
const PARAMETERS: Readonly<Record<string, (value: string) => string | null>> = {
  schema: () => null, // checked by validateSchemaName
  sslmode: (v) =>
    ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(v)
      ? null
      : 'sslmode must be disable, prefer, require, verify-ca, verify-full or no-verify',
  application_name: (v) =>
    /^[\x20-\x7e]{1,63}$/.test(v) ? null : 'application_name must be 1 to 63 printable ASCII characters',
  connect_timeout: (v) =>
    /^\d{1,4}$/.test(v) ? null : 'connect_timeout must be a whole number of seconds (0 to 9999)',
};
const PARAMETER_LIST = Object.keys(PARAMETERS).join(', ');

function checkParameters(url: URL): void {
  for (const name of new Set(url.searchParams.keys())) {
    const check = PARAMETERS[name];
    if (check === undefined) {
      throw new ConfigError(
        `unsupported PostgreSQL URL parameter ${JSON.stringify(name.slice(0, 40))} (supported: ${PARAMETER_LIST})`,
      );
    }
    const values = url.searchParams.getAll(name);
    if (values.length > 1) throw new ConfigError(`invalid PostgreSQL URL: ${name} is given more than once`);
    const problem = check(values[0]);
    if (problem) throw new ConfigError(`invalid PostgreSQL URL: ${problem}`);
  }
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Every form the password can take in a message, longest first. */
function passwordForms(url: URL): string[] {
  if (url.password === '') return [];
  return [...new Set([url.password, decode(url.password)])].sort((a, b) => b.length - a.length);
}

/**
 * Parses `postgres://user[:password]@host[:port]/database[?schema=name&…]`, query parameters limited
 * to the list above. The host is a network name: a path (a local socket) is refused. Errors never
 * echo the URL, which may hold a password.
 */
export function parsePostgresUrl(raw: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('invalid PostgreSQL URL: expected postgres://user@host:port/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`invalid PostgreSQL URL: scheme must be postgres:// (got ${url.protocol}//)`);
  }
  if (url.hash !== '') throw new ConfigError('invalid PostgreSQL URL: a "#" must be percent-encoded (%23)');
  checkParameters(url);
  const schema = validateSchemaName(url.searchParams.get('schema') ?? DEFAULT_SCHEMA);
  url.searchParams.delete('schema');
  const host = decode(url.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost';
  if (/[/\\]/.test(host)) {
    throw new ConfigError('invalid PostgreSQL URL: the host must be a server name or address, not a path');
  }
  const user = decode(url.username) || 'postgres';
  const connectionString = url.toString();
  const shown = new URL(connectionString);
  shown.password = '';
  shown.searchParams.set('schema', schema);
  return {
    connectionString,
    schema,
    description: shown.toString(),
    host,
    port: url.port === '' ? 5432 : Number(url.port),
    database: decode(url.pathname.replace(/^\//, '')) || user,
    user,
    secrets: passwordForms(url),
  };
}
