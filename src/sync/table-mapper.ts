import { compileRowMapper, undeclaredColumns } from '../catalog/schema.js';
import type { ValueEncoders } from '../catalog/schema.js';
import type { Column, JsonObject, JsonValue, Row } from '../catalog/types.js';

/** The declared shape of a table's records, by path: which keys hold a value, which hold an object. */
interface ShapeNode {
  /** A column holds the value found here (scalar or array). */
  leaf: boolean;
  /** Columns sit below this key (the API nests an object here). */
  children: Map<string, ShapeNode> | null;
  /**
   * The keys of the last record walked at this node, in its order, each with what it resolved to:
   * records of one list share their key order, so a key is matched by position (one string
   * comparison) rather than looked up in `children`.
   */
  lastKeys: string[];
  lastNodes: Array<ShapeNode | typeof IGNORED | undefined>;
}

/** A key the drift check skips (a parent's embedded children, at the top). */
const IGNORED = Symbol('ignored');

/** Key under which no record has anything: the parent key column reads null here, then gets the parent id. */
const PARENT_SLOT = '\u0000parent';

const NO_COLUMNS: readonly Column[] = [];

/**
 * Turns a table's API records into rows, and notices fields its columns do not cover (schema drift).
 * The row mapper is compiled once and again only when the columns change. The drift check runs on
 * every record, so its common case is a walk of the record against a tree of known paths that
 * allocates nothing; only a record that does not fit goes through `undeclaredColumns`.
 */
export class TableMapper {
  readonly table: string;
  private readonly encoders: ValueEncoders;
  /** Top-level fields that are not columns of this table (a parent's embedded children). */
  private readonly ignore: ReadonlySet<string>;
  /** Child tables: the column filled with the parent's id rather than from the record. */
  private readonly parentKey: string | undefined;
  private columnList: readonly Column[] = NO_COLUMNS;
  private names = new Set<string>();
  private shape: ShapeNode = shapeNode(false, new Map());
  private mapRow: (record: JsonObject) => Row = () => [];
  private parentIndex = -1;

  constructor(options: {
    table: string;
    columns: readonly Column[];
    encoders: ValueEncoders;
    ignore?: ReadonlySet<string>;
    parentKey?: string;
  }) {
    this.table = options.table;
    this.encoders = options.encoders;
    this.ignore = options.ignore ?? new Set();
    this.parentKey = options.parentKey;
    this.setColumns(options.columns);
  }

  get columns(): readonly Column[] {
    return this.columnList;
  }

  /** Recompiles for a new column list (after columns were added). */
  setColumns(columns: readonly Column[]): void {
    this.columnList = columns;
    this.names = new Set(columns.map((c) => c.name));
    this.parentIndex = columns.findIndex((c) => c.name === this.parentKey);
    const root = shapeNode(false, new Map());
    for (const column of columns) {
      if (column.name === this.parentKey || column.path.length === 0) continue;
      let node = root;
      for (const key of column.path) {
        node.children ??= new Map();
        let child = node.children.get(key);
        if (!child) {
          child = shapeNode(false, null);
          node.children.set(key, child);
        }
        node = child;
      }
      node.leaf = true;
    }
    this.shape = root;
    const mapped = columns.map((c, i) => (i === this.parentIndex ? { ...c, path: [PARENT_SLOT] } : c));
    this.mapRow = compileRowMapper(mapped, this.encoders);
  }

  /** Columns for the fields of `record` this table lacks; empty (and cheap) in the common case. */
  undeclared(record: JsonObject): Column[] {
    if (this.fits(record, this.shape, true)) return [];
    return undeclaredColumns(record, this.names, this.ignore);
  }

  /** The row of `record`, in column order; `parentId` fills the parent key of a child table. */
  row(record: JsonObject, parentId?: number): Row {
    const row = this.mapRow(record);
    if (this.parentIndex >= 0 && parentId !== undefined)
      row[this.parentIndex] = this.encoders.bigint(parentId);
    return row;
  }

  private fits(record: { readonly [key: string]: JsonValue }, node: ShapeNode, top: boolean): boolean {
    const { lastKeys, lastNodes } = node;
    let i = 0;
    for (const key in record) {
      let child: ShapeNode | typeof IGNORED | undefined;
      if (lastKeys[i] === key) {
        child = lastNodes[i];
      } else {
        child = top && this.ignore.has(key) ? IGNORED : node.children?.get(key);
        lastKeys[i] = key;
        lastNodes[i] = child;
      }
      i++;
      const value = record[key];
      if (value === null || child === IGNORED) continue;
      if (child === undefined) return false;
      if (typeof value === 'object' && !Array.isArray(value)) {
        if (child.children === null || !this.fits(value, child, false)) return false;
      } else if (!child.leaf) {
        return false;
      }
    }
    return true;
  }
}

function shapeNode(leaf: boolean, children: Map<string, ShapeNode> | null): ShapeNode {
  return { leaf, children, lastKeys: [], lastNodes: [] };
}
