import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Clock } from '../../src/clock.js';
import { openPostgresControlStore } from '../../src/control/postgres-store.js';
import { SecretBox } from '../../src/control/secrets.js';
import { openSqliteControlStore } from '../../src/control/sqlite-store.js';
import type { ControlStore, PipelineInput } from '../../src/control/types.js';

import { PG_URL } from '../support/databases.js';

export { PG_URL };

export interface StoreFixture {
  readonly store: ControlStore;
  readonly dataDir: string;
  readonly secrets: SecretBox;
  /** Opens a second store on the same database (another process, as far as the store can tell). */
  reopen(secrets?: SecretBox): Promise<ControlStore>;
  /** Every byte the database holds, as text: the SQLite files, or a dump of the schema's tables. */
  dump(): Promise<string>;
  cleanup(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/** A fresh store: its own temp data dir, and for PostgreSQL its own schema. */
export async function makeStore(kind: StoreKind, clock?: Clock): Promise<StoreFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-control-'));
  const secrets = new SecretBox(randomBytes(32));
  const opened: ControlStore[] = [];
  if (kind === 'sqlite') {
    const open = async (box = secrets) => {
      const store = await openSqliteControlStore({ dataDir, secrets: box, clock });
      opened.push(store);
      return store;
    };
    const { readFileSync, readdirSync } = await import('node:fs');
    return {
      store: await open(),
      dataDir,
      secrets,
      reopen: open,
      dump: async () =>
        readdirSync(dataDir)
          .filter((f) => f.startsWith('control.db'))
          .map((f) => readFileSync(join(dataDir, f)).toString('latin1'))
          .join('\n'),
      cleanup: async () => {
        for (const store of opened) await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `hs_control_${randomBytes(6).toString('hex')}`;
  const open = async (box = secrets) => {
    const store = await openPostgresControlStore({ url: PG_URL, schema, secrets: box, clock });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    dataDir,
    secrets,
    reopen: open,
    dump: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const tables = await client.query<{ table_name: string }>(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
          [schema],
        );
        const parts: string[] = [];
        for (const { table_name } of tables.rows) {
          const rows = await client.query(`SELECT * FROM "${schema}"."${table_name}"`);
          parts.push(JSON.stringify(rows.rows));
        }
        return parts.join('\n');
      } finally {
        await client.end();
      }
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const TOKEN = 'pat-secret-3f9a1c77e0b24d5a8b61-tok9';

export function pipelineInput(overrides: Partial<PipelineInput> = {}): PipelineInput {
  return {
    name: 'acme',
    token: TOKEN,
    accountId: '123456',
    destination: 'sqlite:acme.db',
    objects: ['clients', 'projects'],
    frequencyHours: 1,
    since: null,
    fullRefreshHours: 24,
    baseUrl: 'https://api.harvestapp.com',
    enabled: true,
    ...overrides,
  };
}
