import type { EngineAccess } from '../engine.js';
import { openAndClose, readSnapshot } from '../snapshot.js';
import type { SnapshotReader } from '../snapshot.js';
import { connectMysql } from './mysql-connection.js';
import type { MysqlConnection } from './mysql-connection.js';
import { MysqlDestination } from './mysql-destination.js';
import { physicalColumns, stateRows, tableCounts } from './mysql-introspect.js';
import { STATE_TABLE } from './mysql-sql.js';
import { parseMysqlUrl } from './mysql-url.js';

function reader(connection: MysqlConnection): SnapshotReader {
  const columns = async (table: string): Promise<string[]> =>
    [...(await physicalColumns(connection, table)).values()].map((c) => c.name);
  return {
    columns,
    counts: (table) => tableCounts(connection, table),
    states: async () => ((await columns(STATE_TABLE)).length === 0 ? [] : stateRows(connection)),
  };
}

/** A MySQL or MariaDB database's access: its Destination class and driver load with it (URLs: mysql-engine.ts). */
export const mysqlAccess: EngineAccess = {
  test: (target) =>
    openAndClose(
      new MysqlDestination(target.url),
      'MySQL/MariaDB accepted the connection and the database can be written',
    ),
  async introspect(target, tables) {
    let connection: MysqlConnection;
    try {
      connection = await connectMysql(parseMysqlUrl(target.url), { connectTimeoutMs: 5000 });
    } catch (error) {
      // the database is created by the first run
      if ((error as { code?: unknown }).code === 'ER_BAD_DB_ERROR') return null;
      throw error;
    }
    try {
      return await readSnapshot(reader(connection), tables);
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  },
  open: (target) => new MysqlDestination(target.url),
};
