import type { Destination } from './destination.js';

/*
 * The seam between a database engine and the rest of harvest-sync. Everything engine-specific (URL
 * syntax, where files may be, secrets in its URL, testing, reading back what it holds, opening it)
 * is behind this interface, one folder per engine, listed once in ./targets.ts. Each engine is two
 * modules: what reads its URLs (loaded by every command), and its access (driver, Destination
 * class), loaded only for a URL naming it. Nothing outside src/destinations/ asks which engine a URL
 * names.
 */

/** A destination URL read by its engine: what the rest passes back to the engine. */
export interface DestinationTarget {
  /** The engine's name (`sqlite`, `postgres`, `mysql`). */
  readonly kind: string;
  /** The URL as given, trimmed; for file engines, `sqlite:` and the path as written. */
  readonly url: string;
  /** File engines: the database file, as written (relative until placed). */
  readonly path?: string;
}

/** Where a destination URL is used, and what that use allows. */
export interface DestinationScope {
  /** Relative file paths are resolved against this directory. */
  readonly baseDir: string;
  /**
   * Saved pipelines (`serve`, `pipelines`, workers): a file destination must be inside this
   * directory, symbolic links followed. Absent for the one-shot `run`, typed by the user in their
   * own shell.
   */
  readonly root?: string;
  /** Absolute paths that are never a destination (the control store's own files). */
  readonly reserved?: readonly string[];
}

/** What a destination holds, for the UI: tables asked for that exist, and each object's state. */
export interface DestinationSnapshot {
  readonly tables: readonly TableSnapshot[];
  readonly states: readonly StateSnapshot[];
}

export interface TableSnapshot {
  readonly name: string;
  /** Rows, those marked deleted included. */
  readonly rows: number;
  /** Rows with `_deleted_at` set. */
  readonly deletedRows: number;
  readonly columns: readonly string[];
}

export interface StateSnapshot {
  readonly object: string;
  readonly cursor: string | null;
  readonly lastFullPassAt: string | null;
  /** Whether a pass was interrupted and will resume where it stopped. */
  readonly passPending: boolean;
}

export interface DestinationEngine {
  readonly kind: string;
  /** For people: `SQLite`, `PostgreSQL`, `MySQL/MariaDB`. */
  readonly label: string;
  /** The URL form, for usage lines: `sqlite:PATH`. */
  readonly usage: string;
  /**
   * Reads `text` (trimmed; `scheme` is its lower-cased scheme, if any) when it is this engine's URL;
   * null when it is not. Throws ConfigError, with a message that never quotes a password, when it
   * is this engine's but malformed or carries a parameter the engine does not allow. `saved`: the URL
   * is a saved pipeline's, held to the stricter rules of URLs stored and run unattended.
   */
  parse(text: string, scheme: string | undefined, saved: boolean): DestinationTarget | null;
  /**
   * The target as it is used in `scope`: relative paths made absolute, files outside the scope's
   * root or reserved refused (ConfigError, the same message whether or not the path exists).
   */
  place(target: DestinationTarget, scope: DestinationScope): DestinationTarget;
  /** Every form a secret of the URL may take in a message (password raw and decoded), longest first. */
  secrets(target: DestinationTarget): readonly string[];
  /**
   * What the engine does with a target (test, read back, open): a module of its own, with the
   * driver and the Destination class, loaded only when a target of this engine is used, so that a
   * run into SQLite never loads the server engines' code (issue 16).
   */
  load(): Promise<EngineAccess>;
}

/** The part of an engine that talks to the database: see DestinationEngine.load. */
export interface EngineAccess {
  /**
   * Whether a run could write there, checked as far as possible without writing rows. Resolves with
   * one line of what was checked; throws DestinationError (or DestinationBusyError when a run holds it).
   */
  test(target: DestinationTarget): Promise<string>;
  /**
   * Reads, without the run lock and without creating anything, the `tables` that exist (rows,
   * deleted rows, columns) and the state of every object. Null when nothing was written there yet.
   */
  introspect(target: DestinationTarget, tables: readonly string[]): Promise<DestinationSnapshot | null>;
  /** The Destination the target names; the caller opens it (which takes the run lock). */
  open(target: DestinationTarget): Destination;
}
