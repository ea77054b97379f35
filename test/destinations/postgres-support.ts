import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Destination } from '../../src/destinations/destination.js';
import { PostgresDestination } from '../../src/destinations/postgres/postgres-destination.js';
import type { DestinationFactory } from './factories.js';

/** The test server: trust auth, user postgres, database test, unless the environment says otherwise. */
import { PG_URL } from '../support/databases.js';

export { PG_URL };

/** A schema name no other test uses. */
export function uniqueSchema(prefix = 'hs_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** The destination URL for a schema of the test server. */
export function schemaUrl(schema: string): string {
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** A plain pg client on the test server, with `schema` first on its search path when given. */
export async function adminClient(schema?: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: PG_URL,
    options: schema === undefined ? undefined : `-c search_path=${schema}`,
  });
  await client.connect();
  return client;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = await adminClient();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** One schema per handle: tables are found unqualified through the query connection's search path. */
export const postgresFactory: DestinationFactory = {
  name: 'postgres',
  async create() {
    const schema = uniqueSchema();
    const target = schemaUrl(schema);
    const destination: Destination = new PostgresDestination(target);
    let client: pg.Client | null = null;
    return {
      destination,
      target,
      async query(sql) {
        client ??= await adminClient(schema);
        const result = await client.query(sql);
        return result.rows as Record<string, unknown>[];
      },
      async cleanup() {
        await destination.close();
        await client?.end();
        await dropSchema(schema);
      },
    };
  },
  attach: (target) => new PostgresDestination(target),
};
