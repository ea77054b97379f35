import { childTable, objectTable } from '../catalog/schema.js';
import type { Column, JsonObject, ObjectSpec } from '../catalog/types.js';
import { baseEncoders } from '../catalog/schema.js';
import { systemClock, type Clock } from '../clock.js';
import type {
  Batch,
  BatchResult,
  Destination,
  ObjectState,
  TableInfo,
  WrittenQuery,
} from '../destinations/destination.js';
import { DestinationError } from '../errors.js';
import { dateOf } from '../sync/windows.js';
import {
  addProperty,
  compileConformer,
  recordSchema,
  withoutFields,
  type JsonSchema,
} from './json-schema.js';
import { bookmarkOf, countKeyOf, objectStateOf, savedCounts, type StateBook } from './state.js';
import { WrittenLedger, type CountKey } from '../destinations/sqlite/written-ledger.js';

/** A stream a read emits: its catalog object, how it is replicated, and the fields it leaves out. */
export interface StreamPlan {
  readonly spec: ObjectSpec;
  /** Read in full every time (Singer FULL_TABLE, Airbyte full_refresh), never from a cursor. */
  readonly fullTable: boolean;
  /** Top-level fields the catalog deselected. Fields Harvest adds later are kept. */
  readonly excluded: ReadonlySet<string>;
}

/** How one protocol (Singer, Airbyte) writes each kind of message, one JSON line each. */
export interface MessageProtocol {
  /** Lines announcing that a stream's schema grew mid-read (a field Harvest started sending). */
  schemaChanged(stream: string, schema: JsonSchema): string[];
  record(stream: string, data: JsonObject, emittedAt: number, version: number | undefined): string;
  /** Lines telling a target that a full pass is complete: rows of older versions are gone. */
  activateVersion(stream: string, version: number): string[];
  /** The state line after a batch of `stream` (`count` records since its previous state). */
  state(stream: string, book: StateBook, count: number): string;
}

/** Where message lines go, in order; resolves once the text is handed to the OS. */
export interface LineSink {
  write(text: string): Promise<void>;
}

interface Table {
  readonly plan: StreamPlan;
  /** The child's array field, for a child table (invoice line items); undefined for the object's own. */
  readonly childField?: string;
  columns: Column[];
}

/**
 * The engine's Destination for the Singer tap and the Airbyte source: each page the engine writes
 * becomes RECORD lines (Harvest's nested records, typed per the stream schema) followed by the
 * STATE line that resumes right after them, written to stdout together; the state itself lives in
 * memory, seeded from the --state file. The engine runs unchanged: its windows, retries, rate
 * limiter and resume positions are the tap's.
 *
 * What the engine's other writes become:
 * - children (line items) stay nested in their parent's record; a parent read again carries its
 *   whole current list, so a removed line item is gone from it;
 * - the sweep on a full pass's last page (rows not written by the pass are deleted in Harvest)
 *   becomes, with `versions`, ACTIVATE_VERSION: records carry the pass's table version, and the
 *   target drops rows of older versions;
 * - columns added for new fields (schema drift) become a new SCHEMA message (Singer);
 * - countWritten is answered from a temporary id ledger (written-ledger.ts).
 */
export class MessageDestination implements Destination {
  readonly kind = 'messages' as const;
  readonly description = 'stdout';
  /** Rows are mapped by the engine but not used here: values pass as is. */
  readonly encoders = baseEncoders();

  private readonly plans = new Map<string, StreamPlan>();
  private readonly tables = new Map<string, Table>();
  private readonly schemas = new Map<string, JsonSchema>();
  private readonly conformers = new Map<string, (record: JsonObject) => JsonObject>();
  private readonly ledger = new WrittenLedger();
  private readonly clock: Clock;
  private lastStamp: number;

  constructor(
    private readonly options: {
      readonly streams: readonly StreamPlan[];
      readonly book: StateBook;
      readonly protocol: MessageProtocol;
      readonly sink: LineSink;
      /** Table versions and ACTIVATE_VERSION (Singer). */
      readonly versions: boolean;
      readonly clock?: Clock;
    },
  ) {
    this.clock = options.clock ?? systemClock;
    this.lastStamp = options.book.latestStamp();
    for (const plan of options.streams) {
      const { spec } = plan;
      this.plans.set(spec.name, plan);
      this.schemas.set(spec.name, recordSchema(spec));
      this.conformers.set(spec.name, compileConformer(spec));
      this.tables.set(spec.name, { plan, columns: objectTable(spec).columns.slice() });
      for (const child of spec.children) {
        this.tables.set(child.name, {
          plan,
          childField: child.field,
          columns: childTable(child).columns.slice(),
        });
      }
    }
  }

  /** The schema a stream's records follow now (catalog, less deselected fields, plus new fields). */
  schemaOf(stream: string): JsonSchema {
    const plan = this.plans.get(stream);
    const schema = this.schemas.get(stream);
    if (!plan || !schema) throw new DestinationError(`no stream ${stream} in this read`);
    return withoutFields(schema, plan.excluded);
  }

  async open(): Promise<void> {
    this.ledger.open();
  }

  async ensureTable(table: { readonly name: string }): Promise<Column[]> {
    return [...this.table(table.name).columns];
  }

  async addColumns(table: string, columns: readonly Column[]): Promise<Column[]> {
    const entry = this.table(table);
    const stream = entry.plan.spec.name;
    const schema = this.schemas.get(stream) as JsonSchema;
    let changed = false;
    for (const column of columns) {
      if (entry.columns.some((c) => c.name === column.name)) continue;
      entry.columns.push(column);
      if (entry.childField === undefined && entry.plan.excluded.has(column.path[0])) continue;
      changed = addProperty(schema, column.path, column.type, entry.childField) || changed;
    }
    if (changed) {
      const lines = this.options.protocol.schemaChanged(stream, this.schemaOf(stream));
      if (lines.length > 0) await this.options.sink.write(lines.join('\n') + '\n');
    }
    return [...entry.columns];
  }

  async readState(object: string): Promise<ObjectState | null> {
    const plan = this.plans.get(object);
    const saved = this.options.book.get(object);
    if (!plan || !saved) return null;
    // A full-table stream never reads from a cursor; an unfinished full pass still resumes.
    const bookmark =
      plan.fullTable && (saved.cursor !== null || saved.pass?.mode === 'incremental')
        ? { ...saved, cursor: null, pass: saved.pass?.mode === 'full' ? saved.pass : null }
        : saved;
    for (const { key, n } of savedCounts(bookmark)) this.ledger.seed(object, key, n);
    return objectStateOf(object, bookmark);
  }

  async writeBatch(batch: Batch): Promise<BatchResult> {
    const plan = this.plans.get(batch.table);
    if (!plan || !batch.records) {
      throw new DestinationError(
        `the messages destination got a batch of ${batch.table} without its records`,
      );
    }
    const { spec } = plan;
    const { protocol, book, sink } = this.options;
    const stamp = this.stamp();
    const previous = book.get(spec.name);
    const version = this.versionOf(batch, previous?.activeVersion);
    const conform = this.conformers.get(spec.name) as (record: JsonObject) => JsonObject;
    const lines = batch.records.map((record) =>
      protocol.record(spec.name, without(conform(record), plan.excluded), stamp, version),
    );
    this.count(spec, batch, stamp);
    let activeVersion = previous?.activeVersion;
    if (batch.sweep && version !== undefined) {
      lines.push(...protocol.activateVersion(spec.name, version));
      activeVersion = version;
    }
    book.set(
      spec.name,
      bookmarkOf(batch.state, (key) => this.ledger.current(spec.name, key), activeVersion),
    );
    lines.push(protocol.state(spec.name, book, batch.records.length));
    await sink.write(lines.join('\n') + '\n');
    // A message stream keeps no rows to compare with: every record sent counts as updated.
    const sent = { inserted: 0, updated: batch.records.length, unchanged: 0, deleted: 0 };
    return { tables: { [spec.name]: sent } };
  }

  async now(): Promise<string> {
    this.lastStamp = Math.max(this.clock.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  async countWritten(table: string, query: WrittenQuery): Promise<number> {
    const plan = this.plans.get(table);
    if (query.range && query.range.column !== plan?.spec.windowField) {
      throw new DestinationError(`the messages destination counts ${table} by its window date only`);
    }
    return this.ledger.count(table, query);
  }

  /** A message stream keeps no rows: the target drops what a full pass did not send (versions). */
  async unwrittenIds(): Promise<number[]> {
    return [];
  }

  async tableInfo(): Promise<TableInfo | null> {
    return null;
  }

  async close(): Promise<void> {
    this.ledger.close();
  }

  private table(name: string): Table {
    const table = this.tables.get(name);
    if (!table) throw new DestinationError(`no stream holds table ${name} in this read`);
    return table;
  }

  /** A write's stamp: never earlier than any stamp or `now()` already given out. */
  private stamp(): number {
    this.lastStamp = Math.max(this.clock.now(), this.lastStamp);
    return this.lastStamp;
  }

  /**
   * The table version records of this batch carry (Singer only): a full pass that may mark
   * deletions uses its own (its sweep bound, the same when resumed); any other pass the version
   * last activated, so that rows it writes outlive only that version.
   */
  private versionOf(batch: Batch, active: number | undefined): number | undefined {
    if (!this.options.versions) return undefined;
    const since = batch.sweep?.since ?? batch.state.pass?.sweepSince;
    return since !== undefined ? Date.parse(since) : active;
  }

  /** Feeds the ledger for page-numbered lists (the only ones the engine asks countWritten about). */
  private count(spec: ObjectSpec, batch: Batch, stamp: number): void {
    const pass = batch.state.pass;
    if (spec.paging !== 'page' || !pass?.streams || !batch.records) return;
    const live = pass.streams.map((s) => countKeyOf(pass, s)).filter((k): k is CountKey => k !== null);
    const field = spec.windowField;
    const rows = batch.records.map((r) => ({
      id: r.id as number,
      day: field === undefined ? null : dateOf(r[field]),
    }));
    this.ledger.apply(spec.name, live, rows, stamp);
  }
}

function without(record: JsonObject, excluded: ReadonlySet<string>): JsonObject {
  if (excluded.size === 0) return record;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(record)) if (!excluded.has(key)) out[key] = value;
  return out;
}
