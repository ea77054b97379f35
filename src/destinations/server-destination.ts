import { COLUMN_TYPES } from '../catalog/types.js';
import type { Column } from '../catalog/types.js';
import { DestinationError } from '../errors.js';
import type { HarvestSyncError } from '../errors.js';
import type { ObjectState } from './destination.js';
import { storedObjectState } from './pass-state.js';
import type { StoredState } from './pass-state.js';
import { SerialQueue, asDestinationError, inTransaction, preparedTable } from './session.js';
import type { SqlSession } from './session.js';

/*
 * The skeleton the server engines (PostgreSQL, MySQL) share: one writing session, calls run one at
 * a time, a session that broke failing every later call, transactions, and driver errors turned
 * into one-line DestinationErrors with the password scrubbed out. Each engine keeps what differs:
 * how it connects and locks, its SQL, and how it loads rows.
 */

/** What the skeleton needs of an engine's driver and SQL dialect. */
export interface ServerDialect {
  /** The server's name in messages: "PostgreSQL", "MySQL". */
  readonly name: string;
  /** The statement that starts a transaction. */
  readonly begin: string;
  readonly quoteIdent: (name: string) => string;
  /** Whether the session can no longer be used after this error. */
  readonly isConnectionLost: (error: unknown) => boolean;
  readonly toDestinationError: (
    context: string,
    error: unknown,
    secrets: readonly string[],
  ) => HarvestSyncError;
}

/** The parts of a parsed server URL the skeleton reads. */
export interface ServerTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** For messages: the URL without its password. */
  readonly description: string;
  /** The texts to scrub out of every message (the password). */
  readonly secrets: readonly string[];
}

/**
 * A server database as a destination, written through one session (`connection`). Subclasses open
 * it in `connect` and give the engine's own calls; `call` and `transaction` run those one at a time.
 */
export abstract class ServerDestination<
  Connection extends SqlSession,
  Prepared,
  Target extends ServerTarget = ServerTarget,
> {
  readonly description: string;

  protected connection: Connection | null = null;
  /** Set when a session broke: every later call fails with it. */
  protected lost: DestinationError | null = null;
  protected readonly tables = new Map<string, Prepared>();
  private readonly calls = new SerialQueue();

  protected constructor(
    protected readonly target: Target,
    private readonly dialect: ServerDialect,
  ) {
    this.description = target.description;
  }

  /** Connects and takes the run lock (see `connect`); a second call does nothing. */
  open(): Promise<void> {
    return this.exclusive(async () => {
      if (this.connection) return;
      const connection = await this.connect();
      this.lost = null;
      this.connection = connection;
    });
  }

  /** Opens the writing session, locked for this run and migrated; throws a DestinationError if it cannot. */
  protected abstract connect(): Promise<Connection>;

  /** The stored state row of an object, if it has one. */
  protected abstract stateRow(connection: Connection, object: string): Promise<StoredState | undefined>;

  readState(object: string): Promise<ObjectState | null> {
    return this.exclusive(async () => {
      const context = `cannot read the state of ${object} from ${this.description}`;
      const row = await this.attempt(context, (connection) => this.stateRow(connection, object));
      // a state that cannot be resumed says so in its own words (StateError), not as a driver error
      return row ? storedObjectState(object, row, this.description) : null;
    });
  }

  /** `cannot connect to <server> at host:port (database "…", user "…")`. */
  protected connectContext(): string {
    const { host, port, database, user } = this.target;
    return `cannot connect to ${this.dialect.name} at ${host}:${port} (database "${database}", user "${user}")`;
  }

  /** Refuses a column whose name cannot be quoted or whose type is not one of the catalog's. */
  protected checkColumn(table: string, column: Column): void {
    this.dialect.quoteIdent(column.name);
    if (!COLUMN_TYPES.includes(column.type)) {
      throw new DestinationError(`cannot add column "${column.name}" to "${table}": unknown type`);
    }
  }

  /** Runs `fn` on the open session, after the calls before it; its failure comes out as one line. */
  protected call<T>(context: string, fn: (connection: Connection) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.attempt(context, fn));
  }

  /**
   * Runs `fn` in a transaction (`opensItself`: fn sends BEGIN and COMMIT itself, see inTransaction):
   * on any failure it is rolled back (or died with the session), so
   * nothing of it is kept, and the error comes out as a one-line DestinationError.
   */
  protected async transaction<T>(
    context: string,
    fn: (connection: Connection) => Promise<T>,
    options: { readonly opensItself?: boolean } = {},
  ): Promise<T> {
    const connection = this.requireOpen();
    const tables = new Map(this.tables);
    try {
      return await inTransaction(connection, () => fn(connection), {
        ...options,
        begin: this.dialect.begin,
        canRollBack: (error) => !this.lost && !this.dialect.isConnectionLost(error),
        rollbackFailed: (error) => this.markLost(error),
      });
    } catch (error) {
      // DDL inside the transaction (PostgreSQL's staging tables) is undone too: forget what it prepared.
      this.tables.clear();
      for (const [name, table] of tables) this.tables.set(name, table);
      throw this.fail(context, error);
    }
  }

  /** Runs calls one after another, in the order they were made. */
  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.calls.run(fn);
  }

  protected markLost(error: unknown): void {
    this.lost ??= this.wrap(`lost the connection to ${this.description}`, error);
  }

  protected requireOpen(): Connection {
    if (this.lost) throw this.lost;
    if (!this.connection) throw new DestinationError(`${this.description} is not open`);
    return this.connection;
  }

  protected prepared(table: string): Prepared {
    return preparedTable(this.tables, table);
  }

  /** Wraps an error of a call on the open destination, noting a lost session. */
  protected fail(context: string, error: unknown): DestinationError {
    if (this.dialect.isConnectionLost(error)) this.markLost(error);
    return this.wrap(context, error);
  }

  protected wrap(context: string, error: unknown): DestinationError {
    return asDestinationError(this.dialect.toDestinationError(context, error, this.target.secrets), error);
  }

  private async attempt<T>(context: string, fn: (connection: Connection) => Promise<T>): Promise<T> {
    const connection = this.requireOpen();
    try {
      return await fn(connection);
    } catch (error) {
      throw this.fail(context, error);
    }
  }
}
