import type { Batch, BatchResult, Destination, ObjectState } from '../../../src/destinations/destination.js';

/**
 * A destination that remembers what it committed: per object the state of its last committed batch,
 * per table the ids of the rows written (children included) and of the rows a batch may have marked
 * deleted. A batch that threw is not counted — it must have left nothing behind.
 */
export class RecordingDestination implements Destination {
  readonly lastState = new Map<string, ObjectState>();
  readonly writtenIds = new Map<string, Set<string>>();
  /** Tables a committed batch swept or whose children it reconciled: any of their rows may now be marked. */
  readonly touchedTables = new Set<string>();
  readonly childParents = new Map<string, Set<string>>();
  committed = 0;
  failed = 0;

  constructor(private readonly inner: Destination) {}

  get kind(): Destination['kind'] {
    return this.inner.kind;
  }
  get description(): string {
    return this.inner.description;
  }
  get encoders(): Destination['encoders'] {
    return this.inner.encoders;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  ensureTable: Destination['ensureTable'] = (table) => this.inner.ensureTable(table);
  addColumns: Destination['addColumns'] = (table, columns) => this.inner.addColumns(table, columns);
  readState: Destination['readState'] = (object) => this.inner.readState(object);
  now: Destination['now'] = () => this.inner.now();
  tableInfo: Destination['tableInfo'] = (table) => this.inner.tableInfo(table);
  countWritten: Destination['countWritten'] = (table, query) => this.inner.countWritten(table, query);
  unwrittenIds: Destination['unwrittenIds'] = (table, since, limit) =>
    this.inner.unwrittenIds(table, since, limit);
  close(): Promise<void> {
    return this.inner.close();
  }

  async writeBatch(batch: Batch): Promise<BatchResult> {
    let result: BatchResult;
    try {
      result = await this.inner.writeBatch(batch);
    } catch (error) {
      this.failed++;
      throw error;
    }
    this.committed++;
    this.lastState.set(batch.state.object, batch.state);
    // Rows carry the id first in the catalog's tables, children after their parent key.
    this.note(
      batch.table,
      batch.rows.map((row) => row[0]),
    );
    for (const child of batch.children) {
      this.note(
        child.table,
        child.rows.map((row) => row[1]),
      );
      const parents = this.childParents.get(child.table) ?? new Set<string>();
      for (const id of child.parentIds) parents.add(String(id));
      this.childParents.set(child.table, parents);
    }
    for (const table of batch.sweep?.tables ?? []) this.touchedTables.add(table);
    return result;
  }

  private note(table: string, ids: ReadonlyArray<unknown>): void {
    const set = this.writtenIds.get(table) ?? new Set<string>();
    for (const id of ids) set.add(String(id));
    this.writtenIds.set(table, set);
  }
}
