import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Destination } from '../../src/destinations/destination.js';
import { MysqlDestination } from '../../src/destinations/mysql/mysql-destination.js';
import { MYSQL_URL } from '../support/databases.js';
import type { DestinationFactory } from './factories.js';

export { MYSQL_URL };

/** A database name no other test uses: the test URL's database name, then a random suffix. */
export function uniqueDatabase(): string {
  const base = new URL(MYSQL_URL).pathname.replace(/^\//, '') || 'test';
  return `${base.slice(0, 40)}_${randomBytes(6).toString('hex')}`;
}

/** The destination URL for a database of the test server. */
export function databaseUrl(database: string): string {
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A plain connection to the test server (on `database` when given) that reads the portable SQL the
 * tests write: "double-quoted" identifiers (ANSI_QUOTES), DATETIME as UTC Date objects, DATE as text.
 */
export async function adminConnection(database?: string): Promise<mysql.Connection> {
  const url = new URL(MYSQL_URL);
  const connection = await mysql.createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    charset: 'UTF8MB4_BIN',
    timezone: 'Z',
    dateStrings: ['DATE'],
  });
  await connection.query(
    "SET time_zone = '+00:00', sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
  );
  return connection;
}

/** Runs one statement on a connection of its own and returns the rows (none for a non-SELECT). */
export async function queryDatabase(database: string, sql: string): Promise<Record<string, unknown>[]> {
  const connection = await adminConnection(database);
  try {
    const [rows] = await connection.query(sql);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  } finally {
    await connection.end();
  }
}

export async function dropDatabase(database: string): Promise<void> {
  const connection = await adminConnection();
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await connection.end();
  }
}

/** One database per handle. */
export const mysqlFactory: DestinationFactory = {
  name: 'mysql',
  async create() {
    const database = uniqueDatabase();
    const target = databaseUrl(database);
    const destination: Destination = new MysqlDestination(target);
    let connection: mysql.Connection | null = null;
    return {
      destination,
      target,
      async query(sql) {
        connection ??= await adminConnection(database);
        const [rows] = await connection.query(sql);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      },
      async cleanup() {
        await destination.close();
        await connection?.end();
        await dropDatabase(database);
      },
    };
  },
  attach: (target) => new MysqlDestination(target),
};
