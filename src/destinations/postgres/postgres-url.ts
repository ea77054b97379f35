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
 * Parses `postgres://user[:password]@host[:port]/database[?schema=name&…]`. Other query
 * parameters (sslmode, application_name…) are left for pg. Errors never echo the URL, which may
 * hold a password.
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
  const schemas = url.searchParams.getAll('schema');
  if (schemas.length > 1) throw new ConfigError('invalid PostgreSQL URL: schema is given more than once');
  const schema = validateSchemaName(schemas[0] ?? DEFAULT_SCHEMA);
  url.searchParams.delete('schema');

  const secrets = new Set<string>();
  const addSecret = (value: string): void => {
    if (value === '') return;
    secrets.add(value);
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // A malformed escape: the raw form is still scrubbed.
    }
  };
  addSecret(url.password);
  for (const value of url.searchParams.getAll('password')) addSecret(value);
  const connectionString = url.toString();

  const decode = (value: string): string => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  const user = decode(url.username) || 'postgres';
  const host = decode(url.hostname) || url.searchParams.get('host') || 'localhost';
  const port = url.port === '' ? 5432 : Number(url.port);
  const database = decode(url.pathname.replace(/^\//, '')) || user;

  const shown = new URL(connectionString);
  shown.password = '';
  shown.searchParams.delete('password');
  shown.searchParams.set('schema', schema);
  return {
    connectionString,
    schema,
    description: shown.toString(),
    host,
    port,
    database,
    user,
    secrets: [...secrets].sort((a, b) => b.length - a.length),
  };
}

/** Removes every form of the password from a message. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
