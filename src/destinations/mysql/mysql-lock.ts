import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import type { MysqlConnection } from './mysql-connection.js';

/**
 * Named locks (GET_LOCK) are server-wide, so the name carries the database; hashed, because MySQL
 * caps lock names at 64 characters.
 */
export function lockName(database: string, role: 'run' | 'writer'): string {
  return `harvest-sync:${role}:${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

/**
 * Takes a named lock for this session, waiting up to `waitMs`; false when another session still
 * holds it. The lock lasts until released or until the session ends, however it ends: a process
 * killed with -9 closes its socket, and the server frees the lock when it sees that.
 */
export async function getLock(connection: MysqlConnection, name: string, waitMs: number): Promise<boolean> {
  const [rows] = await connection.query<Array<{ got: number | string | null } & RowDataPacket>>(
    'SELECT GET_LOCK(?, ?) AS got',
    [name, Math.max(0.001, waitMs / 1000)],
  );
  return Number(rows[0]?.got) === 1;
}

export async function releaseLock(connection: MysqlConnection, name: string): Promise<void> {
  await connection.query('SELECT RELEASE_LOCK(?)', [name]);
}
