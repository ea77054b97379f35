import type mysql from 'mysql2/promise';
import { databaseSql } from './mysql-sql.js';
import type { MysqlTarget } from './mysql-url.js';

export type MysqlConnection = mysql.Connection;

/**
 * What every session of ours runs under, whatever the server's defaults:
 * - UTC, so NOW() and DATETIME values mean the same in every session;
 * - strict mode, so a value that does not fit its column fails the batch instead of being stored
 *   as something else (a clipped string, a zero, a zero date);
 * - no ANSI_QUOTES or NO_BACKSLASH_ESCAPES: identifiers are `quoted` and strings escaped with \;
 * - a day before an idle session is dropped: the lock session idles for the whole run, and the
 *   writing one while Harvest makes us wait, whatever short wait_timeout a server may set.
 */
const SESSION_SQL =
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE," +
  "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', wait_timeout = 86400";

export interface ConnectOptions {
  readonly connectTimeoutMs: number;
  /** Connect without selecting the database (to create it). */
  readonly noDatabase?: boolean;
  /**
   * Offer LOAD DATA LOCAL (the bench's loader, whose stream factory sends its own rows whatever file
   * the server names). Off for every destination session.
   */
  readonly localFiles?: boolean;
}

function sslOption(target: MysqlTarget): mysql.ConnectionOptions['ssl'] {
  if (target.ssl === 'off') return undefined;
  return { rejectUnauthorized: target.ssl === 'verify' };
}

/**
 * One session on the target's server, set up as above. The driver is loaded on first use: it takes
 * longer to load than the whole CLI does to start, and most runs write elsewhere.
 */
export async function connectMysql(target: MysqlTarget, options: ConnectOptions): Promise<MysqlConnection> {
  const { createConnection } = await import('mysql2/promise');
  const connection = await createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: options.noDatabase ? undefined : target.database,
    ssl: sslOption(target),
    charset: 'UTF8MB4_BIN',
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: options.connectTimeoutMs,
    enableKeepAlive: true,
    multipleStatements: false,
    // affected rows count the rows a statement found, changed or not (the upsert's counts rely on it);
    // LOCAL_FILES not offered: a server (or one posing as it) may never ask for a file of this machine
    flags: ['FOUND_ROWS', options.localFiles === true ? 'LOCAL_FILES' : '-LOCAL_FILES'],
  });
  try {
    await connection.query(SESSION_SQL);
  } catch (error) {
    connection.destroy();
    throw error;
  }
  return connection;
}

/**
 * Connects to the target's database, creating it first when the server says it does not exist
 * (as the PostgreSQL destination creates its schema).
 */
export async function connectCreating(
  target: MysqlTarget,
  options: ConnectOptions,
): Promise<MysqlConnection> {
  try {
    return await connectMysql(target, options);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ER_BAD_DB_ERROR') throw error;
  }
  const server = await connectMysql(target, { ...options, noDatabase: true });
  try {
    await server.query(databaseSql(target.database));
  } finally {
    await server.end().catch(() => server.destroy());
  }
  return connectMysql(target, options);
}
