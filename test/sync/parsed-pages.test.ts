import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import type { ObjectSpec } from '../../src/catalog/types.js';
import type { Destination } from '../../src/destinations/destination.js';
import { sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import type { HarvestSource } from '../../src/harvest/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { PARSED_PAGES } from '../../src/sync/limits.js';
import { simRecords, simulatorClient } from './support/simulator-helpers.js';
import { expectedTables, project, readTable, syncSqlite, tempDir } from './support/sqlite-helpers.js';

/*
 * With a source faster than the writer, requests keep going (date windows side by side) but only
 * PARSED_PAGES pages are parsed into records at a time: the others wait as bytes. Real engine,
 * client, simulator and SQLite; the writer is slowed so that pages pile up behind it.
 */

const timeEntries = findObject('time_entries') as ObjectSpec;

let sim: Simulator;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  sim = await startSimulator({ scale: 0.05, rateLimit: null, timersGrow: false });
  ({ dir, cleanup } = tempDir());
});
afterAll(async () => {
  await sim.stop();
  cleanup();
});

/** Pages parsed for the engine's list reads and not yet written, keyed by their first record's id. */
class ParsedPages {
  readonly live = new Set<unknown>();
  most = 0;
  gated = 0;

  source(inner: HarvestSource): HarvestSource {
    return {
      firstPageUrl: (object, query) => inner.firstPageUrl(object, query),
      fetchRecord: (object, id, signal) => inner.fetchRecord(object, id, signal),
      stats: (object) => inner.stats(object),
      fetchPage: async (object, url, signal, beforeParse) => {
        const page = await inner.fetchPage(object, url, signal, beforeParse);
        // the engine's list reads pass a gate; its one-record probes do not
        if (beforeParse !== undefined && page.records.length > 0) {
          this.gated += 1;
          this.live.add(page.records[0].id);
          this.most = Math.max(this.most, this.live.size);
        }
        return page;
      },
    };
  }

  /** A destination whose writes take 25 ms more, each page leaving `live` once written. */
  slowWriter(destination: Destination): Destination {
    return new Proxy(destination, {
      get: (target, key, receiver) => {
        if (key === 'writeBatch') {
          return async (batch: Parameters<Destination['writeBatch']>[0]) => {
            await sleep(25);
            const result = await target.writeBatch(batch);
            // the first page of a split pass is written empty; the newest window reads it again
            if (batch.records && batch.records.length > 0) this.live.delete(batch.records[0].id);
            return result;
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

describe('pages parsed at a time', () => {
  it(`holds at most ${PARSED_PAGES} parsed pages while 4 windows' requests run ahead of a slow writer`, async () => {
    const db = join(dir, 'parsed.db');
    const parsed = new ParsedPages();
    const { result } = await syncSqlite(db, parsed.source(simulatorClient(sim)), {
      objects: [timeEntries],
      perPage: 20,
      concurrency: 4,
      wrap: (d) => parsed.slowWriter(d),
    });
    expect(result.status).toBe('succeeded');
    const object = result.objects[0];
    expect(object.windows ?? 0).toBeGreaterThan(1);
    expect(parsed.gated).toBeGreaterThan(10);
    expect(parsed.most).toBeLessThanOrEqual(PARSED_PAGES);
    // and nothing is lost by waiting: the table is exactly the simulator's time entries
    const expected = expectedTables(timeEntries, simRecords(sim, 'time_entries'), sqliteEncoders);
    const live = readTable(db, 'time_entries').filter((r) => r._deleted_at === null);
    expect(project(live, expected.time_entries)).toEqual(expected.time_entries);
  });
});
