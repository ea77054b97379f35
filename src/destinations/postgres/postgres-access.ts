import type pg from 'pg';
import { META_COLUMNS } from '../../catalog/types.js';
import type { DestinationTarget, EngineAccess } from '../engine.js';
import { openAndClose, readSnapshot } from '../snapshot.js';
import type { SnapshotReader, StoredStateRow } from '../snapshot.js';
import { loadPgDriver } from './pg-driver.js';
import { PostgresDestination } from './postgres-destination.js';
import { STATE_TABLE, quoteIdent } from './postgres-sql.js';
import { parsePostgresUrl } from './postgres-url.js';

function reader(client: pg.Client, schema: string): SnapshotReader {
  const columns = async (table: string): Promise<string[]> =>
    (
      await client.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema, table],
      )
    ).rows.map((r) => r.name);
  const qualified = (table: string): string => `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return {
    columns,
    counts: async (table) => {
      const { rows } = await client.query<{ rows: string; deleted: string }>(
        `SELECT count(*) AS rows, count(${quoteIdent(META_COLUMNS.deletedAt)}) AS deleted FROM ${qualified(table)}`,
      );
      return { rows: Number(rows[0]?.rows ?? 0), deleted: Number(rows[0]?.deleted ?? 0) };
    },
    states: async () =>
      (await columns(STATE_TABLE)).length === 0
        ? []
        : (
            await client.query<StoredStateRow>(
              `SELECT "object", "cursor", "pass", "last_full_pass_at" FROM ${qualified(STATE_TABLE)}`,
            )
          ).rows,
  };
}

/** Connects for a read: short timeouts, and a name that tells the UI's reads from runs in pg_stat_activity. */
async function connectForReading(target: DestinationTarget): Promise<{ client: pg.Client; schema: string }> {
  const parsed = parsePostgresUrl(target.url);
  const { pg: driver } = await loadPgDriver();
  const client = new driver.Client({
    connectionString: parsed.connectionString,
    connectionTimeoutMillis: 5000,
    statement_timeout: 15_000,
    application_name: 'harvest-sync-ui',
  });
  // an idle-connection error after a failed query must not crash the server
  client.on('error', () => undefined);
  await client.connect();
  return { client, schema: parsed.schema };
}

/** A PostgreSQL schema's access: its Destination class and driver load with it (URLs: postgres-engine.ts). */
export const postgresAccess: EngineAccess = {
  test: (target) =>
    openAndClose(
      new PostgresDestination(target.url),
      'PostgreSQL accepted the connection and the schema can be written',
    ),
  async introspect(target, tables) {
    const { client, schema } = await connectForReading(target);
    try {
      return await readSnapshot(reader(client, schema), tables);
    } finally {
      await client.end().catch(() => undefined);
    }
  },
  open: (target) => new PostgresDestination(target.url),
};
