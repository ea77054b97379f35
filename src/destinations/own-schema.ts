import { DestinationError } from '../errors.js';

/*
 * The destination's own tables (`_harvest_sync_state`, `_harvest_sync_columns`, …) change by
 * numbered migrations, like the control store's: `_harvest_sync_schema` lists the versions applied.
 * Each engine gives the SQL of each step in its dialect; the steps and their order are the same.
 */

export const OWN_SCHEMA_TABLE = '_harvest_sync_schema';

/** One numbered step of the destination's own tables. */
export interface OwnMigration {
  readonly version: number;
  readonly description: string;
  /** Statements in the engine's dialect, each safe to run again (a step cut short is retried whole). */
  readonly sql: readonly string[];
}

/** The descriptions of the steps, shared by every engine (the SQL is each engine's). */
export const OWN_STEPS: Readonly<Record<number, string>> = {
  1: 'sync state (cursor and pass per object) and columns added for new fields',
};

/** How an engine runs the steps on its connection. */
export interface OwnSchemaRunner {
  /** Creates `_harvest_sync_schema` (version, description, applied_at) if missing. */
  createTable(): Promise<void>;
  /** The highest version applied, or null on a destination that has none recorded. */
  appliedVersion(): Promise<number | null>;
  exec(sql: string): Promise<void>;
  /** Records a step as applied (ignored when it already is). */
  record(migration: OwnMigration): Promise<void>;
}

/**
 * Brings the destination's own tables up to the last step, each step recorded once applied. A
 * destination set up before versions existed holds step 1's tables already: its statements are
 * idempotent, so it is simply recorded. One set up by a newer harvest-sync is refused.
 */
export async function migrateOwnTables(
  runner: OwnSchemaRunner,
  migrations: readonly OwnMigration[],
  where: string,
): Promise<void> {
  await runner.createTable();
  const applied = (await runner.appliedVersion()) ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (applied > latest) {
    throw new DestinationError(
      `${where} was set up by a newer harvest-sync (its own tables at version ${applied}, this one knows up to ${latest}): upgrade harvest-sync`,
    );
  }
  for (const migration of migrations) {
    if (migration.version <= applied) continue;
    for (const sql of migration.sql) await runner.exec(sql);
    await runner.record(migration);
  }
}
