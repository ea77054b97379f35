import type pg from 'pg';
import type pgCopyStreams from 'pg-copy-streams';

/** The PostgreSQL driver and its COPY streams, as the destination uses them. */
export interface PgDriver {
  readonly pg: typeof pg;
  readonly copyFrom: typeof pgCopyStreams.from;
}

let loaded: Promise<PgDriver> | null = null;

/**
 * Loads pg and pg-copy-streams on first use: a run into SQLite never pays their start-up
 * (about 80 ms of CPU, half of what `harvest-sync run` may take before its first request).
 */
export function loadPgDriver(): Promise<PgDriver> {
  loaded ??= Promise.all([import('pg'), import('pg-copy-streams')]).then(([driver, copy]) => ({
    pg: driver.default,
    copyFrom: copy.default.from,
  }));
  return loaded;
}
