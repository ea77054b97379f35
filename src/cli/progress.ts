import type { ObjectResult, RowCounts, SyncEvent, SyncResult } from '../sync/types.js';

interface ObjectLine {
  status: string;
  read: number;
  pages: number;
  total: number | null;
  waits: number;
  counts: RowCounts | null;
}

/** "12 inserted, 3 updated, 1219 unchanged, 0 deleted" */
function countsText(c: RowCounts): string {
  return `${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.deleted} deleted`;
}

/**
 * Shows a run as it goes: on a terminal, one live line per object, redrawn in place; elsewhere
 * (pipes, CI, daemons) plain log lines when an object starts and ends. Writes to stderr so that
 * stdout stays clean for `--json`.
 */
export class ProgressView {
  private readonly lines = new Map<string, ObjectLine>();
  private readonly live: boolean;
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    live = out.isTTY === true,
  ) {
    this.live = live;
    if (this.live) this.timer = setInterval(() => this.draw(), 200);
  }

  onSyncEvent = (event: SyncEvent): void => {
    if (event.type === 'object:start') {
      this.lines.set(event.object, {
        status: event.resumed ? 'resuming' : event.mode,
        read: 0,
        pages: 0,
        total: null,
        waits: 0,
        counts: null,
      });
      if (!this.live)
        this.log(`${event.object}: ${event.resumed ? 'resuming' : 'starting'} ${event.mode} pass`);
    } else if (event.type === 'object:page') {
      const line = this.line(event.object);
      line.read = event.read;
      line.pages = event.pages;
      line.total = event.totalEntries ?? line.total;
      line.counts = event.counts;
    } else if (event.type === 'object:done') {
      const r = event.result;
      const line = this.line(r.object);
      line.status = r.status;
      line.counts = r;
      if (!this.live)
        this.log(
          `${r.object}: ${r.status}, ${r.read} read (${countsText(r)})${r.reason ? ` (${r.reason.replace(`${r.object}: `, '')})` : ''}`,
        );
    } else if (event.type === 'schema:column-added') {
      this.log(`${event.table}: new field from Harvest, added column ${event.column} (${event.columnType})`);
    }
  };

  /** Counts a rate-limit wait of an object (from the client's events). */
  rateLimitWait(object: string, waitMs: number): void {
    this.line(object).waits++;
    if (!this.live && waitMs >= 1000)
      this.log(`${object}: waiting ${(waitMs / 1000).toFixed(1)} s for Harvest's rate limit`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.live) this.draw();
  }

  private line(object: string): ObjectLine {
    let line = this.lines.get(object);
    if (!line) {
      line = { status: 'starting', read: 0, pages: 0, total: null, waits: 0, counts: null };
      this.lines.set(object, line);
    }
    return line;
  }

  private log(message: string): void {
    if (this.live) {
      this.clear();
      this.out.write(message + '\n');
      this.draw();
    } else {
      this.out.write(`${new Date().toISOString()} ${message}\n`);
    }
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    const rows = [...this.lines].map(([object, l]) => {
      const total = l.total !== null ? `/${l.total}` : '';
      const waits = l.waits > 0 ? `  rate-limit waits ${l.waits}` : '';
      const counts = l.counts ? `  ${countsText(l.counts)}` : '';
      return `${object.padEnd(26)} ${l.status.padEnd(12)} ${String(l.read).padStart(9)}${total} records  ${l.pages} pages${counts}${waits}`;
    });
    // a line wider than the terminal would wrap, and the redraw would miss its second half
    const width = this.out.columns > 1 ? this.out.columns - 1 : Infinity;
    if (rows.length > 0) this.out.write(rows.map((row) => row.slice(0, width)).join('\n') + '\n');
    this.drawn = rows.length;
  }
}

/** Columns of every table of counts the CLI prints, after `read`: what became of the records. */
export const COUNT_COLUMNS = ['inserted', 'updated', 'unchanged', 'deleted'] as const;

/** The end-of-run table: one row per object, then the totals. */
export function formatSummary(result: SyncResult): string {
  const header = ['object', 'status', 'read', ...COUNT_COLUMNS, 'calls', 'waits', 'seconds'];
  const row = (r: ObjectResult) => [
    r.object,
    r.status,
    String(r.read),
    ...COUNT_COLUMNS.map((key) => String(r[key])),
    String(r.calls),
    String(r.rateLimitWaits),
    r.seconds.toFixed(1),
  ];
  const sum = (key: 'read' | keyof RowCounts | 'calls' | 'rateLimitWaits') =>
    String(result.objects.reduce((n, r) => n + r[key], 0));
  const seconds = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
  const rows = [
    header,
    ...result.objects.map(row),
    [
      'total',
      result.status,
      sum('read'),
      ...COUNT_COLUMNS.map(sum),
      sum('calls'),
      sum('rateLimitWaits'),
      seconds.toFixed(1),
    ],
  ];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const text = rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '),
  );
  text.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  text.splice(text.length - 1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const notes = result.objects.flatMap((r) => {
    const out: string[] = [];
    if (r.reason) {
      const reason = r.reason.startsWith(`${r.object}: `) ? r.reason.slice(r.object.length + 2) : r.reason;
      out.push(`${r.object}: ${r.status}: ${reason}`);
    }
    if (r.windows) out.push(`${r.object}: read as ${r.windows} date windows side by side`);
    if (r.notice) out.push(`${r.object}: note: ${r.notice}`);
    return out;
  });
  return [...text, ...notes].join('\n');
}
