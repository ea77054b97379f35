import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDestination } from '../../src/destinations/index.js';
import type { Destination } from '../../src/destinations/destination.js';
import { HarvestClient } from '../../src/harvest/client.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { runSync } from '../../src/sync/engine.js';
import { planObjects } from '../../src/sync/plan.js';
import type { DestinationScope } from '../../src/destinations/index.js';
import { inspectDestination } from '../../src/server/destination-inspect.js';
import { databaseUrl, dropDatabase, uniqueDatabase } from '../destinations/mysql-support.js';
import { PG_URL } from '../support/databases.js';

/*
 * The pipeline page's "rows in destination" and "last cursor" come from inspectDestination: checked
 * here against what a real sync wrote into real SQLite, PostgreSQL and MariaDB databases, and while a run holds
 * the destination's lock (the UI must read then without taking it).
 */

const OBJECTS = ['clients', 'invoices', 'time_entries'];

let sim: Simulator;
let dir: string;
const schema = `hs_web_${randomBytes(5).toString('hex')}`;
const database = uniqueDatabase();
/** As the daemon reads a pipeline's destination: SQLite files inside the root. */
const scope = (): DestinationScope => ({ baseDir: dir, root: dir });

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.02, rateLimit: null });
  dir = mkdtempSync(join(tmpdir(), 'hs-inspect-'));
});

afterAll(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  await dropDatabase(database);
});

async function syncInto(url: string): Promise<Destination> {
  const destination = openDestination(url);
  await destination.open();
  const source = new HarvestClient({
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    userAgent: 'harvest-sync tests (dev@example.com)',
  });
  const result = await runSync({ source, destination, objects: planObjects(OBJECTS), fullRefresh: true });
  expect(result.status).toBe('succeeded');
  return destination;
}

const pgUrl = () => {
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
};

describe.each([
  ['SQLite', () => `sqlite:${join(dir, 'harvest.db')}`],
  ['PostgreSQL', pgUrl],
  ['MariaDB', () => databaseUrl(database)],
])('inspectDestination on %s', (_engine, url) => {
  it('reports nothing written yet before the first run', async () => {
    const report = await inspectDestination(url(), OBJECTS, scope());
    if (report.available) {
      // a server: it is there, the tables are not
      expect(report.objects.map((o) => [o.object, o.rows, o.cursor])).toEqual(
        OBJECTS.map((o) => [o, null, null]),
      );
    } else {
      expect(report.message).toBe('nothing has been written to the destination yet');
    }
  });

  it('counts the rows a sync wrote, children included, with each cursor, while the run lock is held', async () => {
    const destination = await syncInto(url());
    try {
      // the lock is still held here: reading must neither wait for it nor take it
      const report = await inspectDestination(url(), OBJECTS, scope());
      expect(report.available).toBe(true);
      for (const object of OBJECTS) {
        const entry = report.objects.find((o) => o.object === object);
        expect(entry?.rows).toBe([...sim.records(object)].length);
        expect(entry?.deletedRows).toBe(0);
        expect(entry?.cursor).toMatch(/^\d{4}-\d{2}-\d{2}T/);
        expect(entry?.passPending).toBe(false);
      }
      const lineItems = [...sim.records('invoices')].reduce(
        (n, invoice) => n + (invoice.line_items as unknown[]).length,
        0,
      );
      expect(report.objects.find((o) => o.object === 'invoices')?.children).toEqual([
        { table: 'invoice_line_items', rows: lineItems, deletedRows: 0 },
      ]);
    } finally {
      await destination.close();
    }
    // and the next run can take the lock: the inspection left nothing behind
    const next = openDestination(url());
    await next.open();
    await next.close();
  });
});

describe('inspectDestination failures', () => {
  it('says why an unreachable PostgreSQL server cannot be read, without its password', async () => {
    const report = await inspectDestination('postgres://u:S3cretPw@127.0.0.1:1/db', OBJECTS, scope());
    expect(report.available).toBe(false);
    expect(report.message).toMatch(/^cannot read the destination: /);
    expect(report.message).not.toContain('S3cretPw');
  });

  it('says the same of an unreachable MySQL server', async () => {
    const report = await inspectDestination('mysql://u:S3cretPw@127.0.0.1:1/db', OBJECTS, scope());
    expect(report.available).toBe(false);
    expect(report.message).toMatch(/^cannot read the destination: /);
    expect(report.message).not.toContain('S3cretPw');
  });

  it('reads no SQLite file outside the root, whether or not it exists', async () => {
    const reports = await Promise.all(
      ['/etc/passwd', '/no/such/file.db'].map((path) =>
        inspectDestination(`sqlite:${path}`, OBJECTS, scope()),
      ),
    );
    for (const report of reports) {
      expect(report.available).toBe(false);
      expect(report.message).toMatch(/must be inside/);
    }
    expect(reports[0].message).toBe(reports[1].message);
  });
});
