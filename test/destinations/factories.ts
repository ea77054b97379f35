import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Destination } from '../../src/destinations/destination.js';
import { SqliteDestination } from '../../src/destinations/sqlite/sqlite-destination.js';
import { mysqlFactory } from './mysql-support.js';
import { postgresFactory } from './postgres-support.js';

/** A fresh, empty database for one test, and a way to look inside it. */
export interface DestinationHandle {
  /** Not yet opened. */
  readonly destination: Destination;
  /** Names this database to `attach` (a path, a schema…); plain text so a child process can use it. */
  readonly target: string;
  /** Runs SQL on a connection of its own (double-quoted identifiers, portable SQL) and returns the rows. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes what the handle opened and removes the database. */
  cleanup(): Promise<void>;
}

export interface DestinationFactory {
  readonly name: string;
  create(): Promise<DestinationHandle>;
  /** Another, unopened Destination on the database a handle's `target` names. */
  attach(target: string): Destination;
}

export const sqliteFactory: DestinationFactory = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-dest-'));
    const target = join(dir, 'harvest.db');
    const destination = new SqliteDestination(target);
    return {
      destination,
      target,
      async query(sql) {
        const db = new Database(target);
        try {
          const statement = db.prepare(sql);
          if (!statement.reader) {
            statement.run();
            return [];
          }
          return statement.all() as Record<string, unknown>[];
        } finally {
          db.close();
        }
      },
      async cleanup() {
        await destination.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  attach: (target) => new SqliteDestination(target),
};

/**
 * Every destination the conformance suite runs against.
 * PostgreSQL: one schema per handle; MySQL/MariaDB: one database per handle.
 */
export const FACTORIES: readonly DestinationFactory[] = [sqliteFactory, postgresFactory, mysqlFactory];

export function findFactory(name: string): DestinationFactory {
  const factory = FACTORIES.find((f) => f.name === name);
  if (!factory) throw new Error(`no destination factory named ${name}`);
  return factory;
}
