import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findObject } from '../../src/catalog/objects.js';
import { compileRowMapper, objectTable } from '../../src/catalog/schema.js';
import type { JsonObject, ObjectSpec } from '../../src/catalog/types.js';
import { airbyteProtocol } from '../../src/airbyte/messages.js';
import { MessageDestination } from '../../src/connectors/message-destination.js';
import { StateBook } from '../../src/connectors/state.js';
import type { Destination, ObjectState, StreamState } from '../../src/destinations/destination.js';
import { SqliteDestination, sqliteEncoders } from '../../src/destinations/sqlite/sqlite-destination.js';
import { tempDir } from '../sync/support/sqlite-helpers.js';

/*
 * Destination.countWritten of the messages destination (a temporary id ledger) answers what the
 * SQLite destination's count(*) answers for the same batches: distinct records of a stream attempt,
 * by window date, ids left out, a restarted stream counting afresh, and across a resume.
 */

const spec = findObject('time_entries') as ObjectSpec;
const W1 = { from: '2024-01-01', to: '2024-06-30' };
const W2 = { from: '2024-07-01', to: '2024-12-31' };

let dir: ReturnType<typeof tempDir>;
beforeEach(() => (dir = tempDir()));
afterEach(() => dir.cleanup());

const entry = (id: number, day: string): JsonObject => ({ id, spent_date: day, notes: `entry ${id}` });
const day = (id: number) => String(id).padStart(2, '0');
const inW1 = (id: number) => entry(id, `2024-03-${day(id)}`);
const inW2 = (id: number) => entry(id, `2024-09-${day(id)}`);

function messages(book = new StateBook({}, [spec.name])): {
  destination: MessageDestination;
  book: StateBook;
} {
  const destination = new MessageDestination({
    streams: [{ spec, fullTable: false, excluded: new Set() }],
    book,
    protocol: airbyteProtocol,
    sink: { write: async () => undefined },
    versions: false,
  });
  return { destination, book };
}

/** Writes pages of two date windows and a restart, asking countWritten along the way. */
class Scenario {
  private readonly map = compileRowMapper(objectTable(spec).columns, sqliteEncoders);
  since = '';
  w2Since: string | undefined;

  constructor(public destination: Destination) {}

  async start(): Promise<void> {
    await this.destination.open();
    await this.destination.ensureTable(objectTable(spec));
    this.since = await this.destination.now();
  }

  state(): ObjectState {
    const stream = (w: { from: string; to: string }, since?: string): StreamState => ({
      ...w,
      firstUrl: `https://api.test/v2/time_entries?from=${w.from}`,
      nextUrl: `https://api.test/v2/time_entries?from=${w.from}&page=2`,
      ...(since !== undefined ? { writtenSince: since } : {}),
    });
    return {
      object: spec.name,
      cursor: null,
      lastFullPassAt: null,
      pass: {
        mode: 'full',
        startedAt: '2026-01-01T00:00:00Z',
        writtenSince: this.since,
        streams: [stream(W1), stream(W2, this.w2Since)],
      },
    };
  }

  async page(records: JsonObject[]): Promise<void> {
    await this.destination.writeBatch({
      table: spec.name,
      rows: records.map((r) => this.map(r)),
      children: [],
      records,
      state: this.state(),
    });
  }

  count(window: { from: string; to: string }, exceptIds: number[] = [], since = this.since): Promise<number> {
    return this.destination.countWritten(spec.name, {
      since,
      range: { column: 'spent_date', ...window },
      exceptIds,
    });
  }
}

/** The counts asked along the scenario; `resume` swaps the destination for a resumed one midway. */
async function drive(first: Destination, resume?: () => Destination): Promise<number[]> {
  const s = new Scenario(first);
  await s.start();
  const counts: number[] = [];
  await s.page([1, 2, 3, 4, 5].map(inW1));
  await s.page([6, 7, 8].map(inW2));
  counts.push(await s.count(W1), await s.count(W2), await s.count(W1, [2, 99]));
  // records slid back onto the next page (read twice), and one moved from W2 into W1
  await s.page([4, 5, 9, 10].map(inW1));
  await s.page([inW1(6)]);
  counts.push(await s.count(W1), await s.count(W2), await s.count(W1, [9, 10]));
  // W2 is read again from its top: only what its new attempt writes counts
  s.w2Since = await s.destination.now();
  await s.page([7, 11].map(inW2));
  counts.push(await s.count(W2, [], s.w2Since), await s.count(W2));
  if (resume) {
    await s.destination.close();
    s.destination = resume();
    await s.destination.open();
    await s.destination.readState(spec.name);
  }
  await s.page([12, 13].map(inW2));
  await s.page([14].map(inW1));
  counts.push(await s.count(W2, [13], s.w2Since), await s.count(W1), await s.count(W1, [14]));
  await s.destination.close();
  return counts;
}

describe('the messages destination’s countWritten', () => {
  it('equals the SQLite destination’s, page by page, in one read and across a resume from its STATE', async () => {
    const expected = await drive(new SqliteDestination(join(dir.dir, 'count.db')));
    expect(expected).toEqual([5, 3, 4, 8, 2, 6, 2, 3, 3, 9, 8]);
    expect(await drive(messages().destination)).toEqual(expected);
    // killed after the restart's page: a new process gets only the bookmark of the last STATE
    const first = messages();
    const resumed = await drive(first.destination, () => {
      const saved = first.book.get(spec.name);
      return messages(new StateBook({ [spec.name]: saved }, [spec.name])).destination;
    });
    expect(resumed).toEqual(expected);
  });
});
