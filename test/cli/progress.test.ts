import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressView, formatSummary } from '../../src/cli/progress.js';
import type { ObjectResult, RowCounts, SyncResult } from '../../src/sync/types.js';

/** A terminal (or a pipe) `columns` wide that keeps what is written to it. */
function screen(columns: number): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { out: Object.assign(stream, { columns }) as unknown as NodeJS.WriteStream, text: () => text };
}

const counts: RowCounts = { inserted: 12, updated: 3, unchanged: 1219, deleted: 2 };

function result(): ObjectResult {
  return {
    object: 'time_entries',
    status: 'succeeded',
    mode: 'full',
    read: 1234,
    ...counts,
    pages: 2,
    calls: 2,
    rateLimitWaits: 0,
    retries: 0,
    seconds: 1.5,
    cursor: null,
  };
}

function feed(view: ProgressView): void {
  view.onSyncEvent({ type: 'object:start', object: 'time_entries', mode: 'full', resumed: false });
  view.onSyncEvent({
    type: 'object:page',
    object: 'time_entries',
    records: 1234,
    read: 1234,
    pages: 1,
    totalEntries: 5000,
    written: counts,
    counts,
  });
}

describe('progress', () => {
  it('shows what the writes did so far on the live line, cut to the terminal width', () => {
    const wide = screen(200);
    const view = new ProgressView(wide.out, true);
    feed(view);
    view.stop();
    expect(wide.text()).toContain(
      '1234/5000 records  1 pages  12 inserted, 3 updated, 1219 unchanged, 2 deleted',
    );

    const narrow = screen(60);
    const small = new ProgressView(narrow.out, true);
    feed(small);
    small.stop();
    // the cursor moves and clears between redraws are not text on the screen
    const lines = narrow
      .text()
      .split(String.fromCharCode(27))
      .map((part) => part.replace(/^\[[0-9;]*[A-Za-z]/, ''))
      .join('')
      .split('\n');
    expect(lines.some((line) => line.startsWith('time_entries'))).toBe(true);
    for (const line of lines) expect(line.length).toBeLessThan(60);
  });

  it('logs the counts when an object ends, and prints them per object and in total', () => {
    const pipe = screen(0);
    const view = new ProgressView(pipe.out, false);
    feed(view);
    view.onSyncEvent({ type: 'object:done', result: result() });
    view.stop();
    expect(pipe.text()).toContain(
      'time_entries: succeeded, 1234 read (12 inserted, 3 updated, 1219 unchanged, 2 deleted)',
    );
    const summary: SyncResult = {
      status: 'succeeded',
      objects: [
        result(),
        { ...result(), object: 'roles', read: 5, inserted: 0, updated: 0, unchanged: 5, deleted: 0 },
      ],
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:02.000Z',
    };
    const lines = formatSummary(summary).split('\n');
    expect(lines[0]).toMatch(
      /^object +status +read +inserted +updated +unchanged +deleted +calls +waits +seconds$/,
    );
    const cellsOf = (name: string) =>
      lines
        .find((l) => l.startsWith(name))
        ?.split(/\s+/)
        .slice(2, 7);
    expect(cellsOf('roles')).toEqual(['5', '0', '0', '5', '0']);
    expect(cellsOf('total')).toEqual(['1239', '12', '3', '1224', '2']);
  });
});
