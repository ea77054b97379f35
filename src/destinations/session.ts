import { META_COLUMNS } from '../catalog/types.js';
import type { Column } from '../catalog/types.js';
import { DestinationError } from '../errors.js';
import type { HarvestSyncError } from '../errors.js';

/*
 * What the destinations written through one connection share: calls run one at a time, tables
 * prepared before they are written, and driver errors that always come out as DestinationError.
 */

/** Runs calls one after another, in the order they were made, whether the one before failed or not. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** The table ensureTable prepared; a table written before it was prepared is our bug, said so. */
export function preparedTable<T>(tables: ReadonlyMap<string, T>, table: string): T {
  const prepared = tables.get(table);
  if (!prepared) throw new DestinationError(`table "${table}" was written before ensureTable prepared it`);
  return prepared;
}

/** A wrapped driver error as a DestinationError (one of our other errors keeps its message). */
export function asDestinationError(wrapped: HarvestSyncError, cause: unknown): DestinationError {
  return wrapped instanceof DestinationError ? wrapped : new DestinationError(wrapped.message, { cause });
}

/** A connection that takes SQL text: pg's clients and mysql2's connections alike. */
export interface SqlSession {
  query(sql: string): Promise<unknown>;
}

export interface TransactionOptions {
  /** The statement that starts it. Default `BEGIN`. */
  readonly begin?: string;
  /** False when the session is gone: the server rolls back on its own, and ROLLBACK would only fail. */
  readonly canRollBack?: (error: unknown) => boolean;
  /** Told of a ROLLBACK that failed (the session is likely gone). */
  readonly rollbackFailed?: (error: unknown) => void;
  /** `fn` sends BEGIN and COMMIT itself, each with other statements (fewer round trips). */
  readonly opensItself?: boolean;
}

/**
 * Runs `fn` in one transaction of `session`: on any failure it is rolled back, so nothing of it is
 * kept, and the error goes on unchanged.
 */
export async function inTransaction<T>(
  session: SqlSession,
  fn: () => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  try {
    if (!options.opensItself) await session.query(options.begin ?? 'BEGIN');
    const result = await fn();
    if (!options.opensItself) await session.query('COMMIT');
    return result;
  } catch (error) {
    if (options.canRollBack?.(error) ?? true) {
      await session.query('ROLLBACK').catch(options.rollbackFailed ?? (() => undefined));
    }
    throw error;
  }
}

const RESERVED: ReadonlySet<string> = new Set([META_COLUMNS.syncedAt, META_COLUMNS.deletedAt]);

/**
 * For the engines whose column names ignore case (MySQL, SQLite): refuses a new column whose name is
 * one of our stamps' or differs only by case from a column the table has or is getting. Gives back
 * the table's column of exactly that name, if one was made by hand (it is adopted, not added again).
 */
export function caseInsensitiveColumn<P extends { readonly name: string }>(
  where: { readonly table: string; readonly engine: string },
  column: Column,
  columns: readonly Column[],
  physical: ReadonlyMap<string, P>,
): P | undefined {
  const name = column.name.toLowerCase();
  const clash = columns.find((c) => c.name.toLowerCase() === name);
  const existing = physical.get(name);
  if (clash || RESERVED.has(name) || (existing && existing.name !== column.name)) {
    throw new DestinationError(
      `cannot add column "${column.name}" to "${where.table}": it clashes with column ` +
        `"${clash?.name ?? existing?.name ?? column.name}" (${where.engine} column names ignore case)`,
    );
  }
  return existing;
}
