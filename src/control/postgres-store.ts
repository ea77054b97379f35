import pg from 'pg';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { redactUrl } from '../destinations/targets.js';
import { inTransaction } from '../destinations/session.js';
import type { SqlDriver, SqlExecutor, SqlParam, SqlRow } from './store.js';
import { ControlStoreError, SqlControlStore, controlMigrations, migrate } from './store.js';
import type { SecretBox } from './secrets.js';

/** Any 64-bit constant works; it only has to be the same for every harvest-sync process. */
const MIGRATION_LOCK_KEY = 7_264_021_551;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Runs `fn` in one transaction on one connection of `pool`. */
export async function poolTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, () => fn(client));
  } finally {
    client.release();
  }
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    all: async (sql, params = []) => (await client.query(sql, [...params])).rows as SqlRow[],
    run: async (sql, params = []) => {
      await client.query(sql, [...params]);
    },
  };
}

class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #exec: SqlExecutor;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#exec = executor(pool);
  }

  all(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]> {
    return this.#exec.all(sql, params);
  }

  run(sql: string, params?: readonly SqlParam[]): Promise<void> {
    return this.#exec.run(sql, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return poolTransaction(this.#pool, (client) => fn(executor(client)));
  }

  isUniqueViolation(error: unknown): boolean {
    return (error as { code?: unknown } | null)?.code === '23505';
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }
}

export interface PostgresControlStoreOptions {
  /** postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]; schema defaults to `harvest_sync`. */
  readonly url: string;
  /** Overrides the URL's `schema` parameter (tests use one schema each). */
  readonly schema?: string;
  readonly secrets: SecretBox;
  readonly clock?: Clock;
}

export const DEFAULT_CONTROL_SCHEMA = 'harvest_sync';

/** The connection string without our `schema` parameter, and that schema (default `harvest_sync`). */
export function splitControlStoreUrl(
  text: string,
  schemaOverride?: string,
): { connectionString: string; schema: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ControlStoreError(`the control store URL is not a valid PostgreSQL URL: ${redactUrl(text)}`);
  }
  const schema = schemaOverride ?? url.searchParams.get('schema') ?? DEFAULT_CONTROL_SCHEMA;
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

/** A pool whose connections see the control schema first. */
export function controlStorePool(connectionString: string, schema: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, options: `-c search_path=${quoteIdent(schema)}` });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Connects, creates the schema if missing and brings it up to date. Several processes may start at
 * once: migrations serialise on an advisory lock.
 */
export async function openPostgresControlStore(
  options: PostgresControlStoreOptions,
): Promise<SqlControlStore> {
  const { connectionString, schema } = splitControlStoreUrl(options.url, options.schema);
  const pool = controlStorePool(connectionString, schema, 4);
  const driver = new PostgresDriver(pool);
  try {
    const lock = (tx: SqlExecutor) => tx.run('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await driver.transaction(async (tx) => {
      await lock(tx);
      await tx.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    });
    await migrate(driver, controlMigrations('postgres'), lock, options.clock ?? systemClock);
  } catch (error) {
    await driver.close();
    throw new ControlStoreError(
      `cannot open the control store ${redactUrl(options.url)}: ${(error as Error).message.split('\n')[0]}`,
      { cause: error },
    );
  }
  return new SqlControlStore(driver, options);
}
