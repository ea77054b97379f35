/**
 * The control layer: what harvest-sync knows about the syncs it manages.
 * - pipeline: one Harvest account replicated into one destination on a schedule.
 * - run: one execution of a pipeline's sync (scheduled or manual), with per-object statistics.
 * - control store: where pipelines and runs live (embedded SQLite in the data directory, or PostgreSQL).
 *
 * Secrets (the Harvest token, a destination password) are encrypted by the store and never part of
 * a `Pipeline`: only `pipelineSecrets()` returns them, for the runner.
 */

export const RUN_TRIGGERS = ['schedule', 'manual'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Per-object status within a run; `running` while the run is live, then the engine's verdict. */
export const RUN_OBJECT_STATUSES = ['running', 'succeeded', 'skipped', 'failed', 'interrupted'] as const;
export type RunObjectStatus = (typeof RUN_OBJECT_STATUSES)[number];

/** What a user sets on a pipeline (validation.ts checks each field; limits.ts bounds them). */
export interface PipelineSettings {
  readonly name: string;
  readonly accountId: string;
  /** Destination URL: in clear in a PipelineInput, with any password as `***` everywhere else. */
  readonly destination: string;
  /** Object names (catalog order). */
  readonly objects: readonly string[];
  /** Whole hours between the starts of two scheduled runs (FREQUENCY_HOURS). */
  readonly frequencyHours: number;
  /** YYYY-MM-DD lower bound for dated objects, or null for all history. */
  readonly since: string | null;
  /** A run becomes a full refresh (capturing deletions) when the last one is this many hours old. */
  readonly fullRefreshHours: number;
  /** Harvest API root (https://api.harvestapp.com, the simulator, or a proxy). */
  readonly baseUrl: string;
  /** False when paused: the scheduler leaves it alone (a manual run still works). */
  readonly enabled: boolean;
}

/**
 * A pipeline as every caller sees it (CLI, API, UI): never the token, never a destination password.
 * Timestamps are ISO 8601 UTC strings.
 */
export interface Pipeline extends PipelineSettings {
  readonly id: number;
  /** Last 4 characters of the Harvest token; show it through `mask()` from secrets.ts. */
  readonly tokenLast4: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Start of the last successful full-refresh run, null before the first one. */
  readonly lastFullRefreshAt: string | null;
  /**
   * The machine whose workers run it: the one that saved it, for a SQLite destination (the file
   * lives there); null when any worker may (a server database).
   */
  readonly host: string | null;
}

/**
 * A validated new pipeline: the output of `pipelineCreateSchema` (validation.ts). Carries the token
 * and the full destination URL in clear; the store encrypts them.
 */
export interface PipelineInput extends PipelineSettings {
  readonly token: string;
}

/** A validated change to a pipeline (output of `pipelineUpdateSchema`): only the fields present change. */
export type PipelineUpdate = Partial<PipelineInput>;

/** The decrypted secrets of a pipeline, for the runner only. Never log or return these. */
export interface PipelineSecrets {
  readonly token: string;
  /** The destination URL with its password, if it has one. */
  readonly destinationUrl: string;
}

/** Statistics of one object in one run. While the run is live they are updated as pages land. */
export interface RunObjectStats {
  readonly object: string;
  readonly status: RunObjectStatus;
  readonly mode: 'full' | 'incremental';
  readonly read: number;
  /** Records new to the destination. */
  readonly inserted: number;
  /**
   * Records whose stored values changed (or that came back after being marked deleted). In runs
   * recorded before harvest-sync counted unchanged rows (`unchanged` null), every record that
   * existed.
   */
  readonly updated: number;
  /** Records read again and stored as they were; null in runs recorded before it was counted. */
  readonly unchanged: number | null;
  /** Rows (and child rows) marked deleted. */
  readonly deleted: number;
  readonly calls: number;
  readonly rateLimitWaits: number;
  readonly retries: number;
  readonly seconds: number;
  /** Why it was skipped or failed; null otherwise. */
  readonly reason: string | null;
}

/** Sums over a run's objects; `unchanged` is null when an object's count is (an older run's). */
export type RunTotals = Pick<
  RunObjectStats,
  'read' | 'inserted' | 'updated' | 'unchanged' | 'deleted' | 'calls' | 'rateLimitWaits'
>;

export interface Run {
  readonly id: number;
  readonly pipelineId: number;
  readonly trigger: RunTrigger;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** One line, safe to show; null unless the run failed or was interrupted. */
  readonly error: string | null;
  /** Whether this run re-read everything to capture deletions. */
  readonly fullRefresh: boolean;
  readonly totals: RunTotals;
  /** Per-object statistics, in catalog order of the objects started so far. */
  readonly objects: readonly RunObjectStats[];
  /** The process running it, `host#pid` (see run-owner.ts); null for runs recorded without one. */
  readonly owner: string | null;
  /** The queued job it ran for (several workers on a PostgreSQL control store); null otherwise. */
  readonly jobId: string | null;
}

export interface StartRunInput {
  readonly pipelineId: number;
  readonly trigger: RunTrigger;
  readonly fullRefresh: boolean;
  /** ISO 8601 UTC, from the caller's clock (the scheduler's fake clock in tests). */
  readonly startedAt: string;
  /** The process running it, so a run left `running` by a dead process can be told apart from a live one. */
  readonly owner?: string;
  /** The queued job it runs for, when a worker runs it. */
  readonly jobId?: string;
}

export interface FinishRunInput {
  readonly status: Exclude<RunStatus, 'running'>;
  readonly finishedAt: string;
  readonly error: string | null;
  readonly objects: readonly RunObjectStats[];
}

export interface ListRunsQuery {
  readonly pipelineId?: number;
  readonly status?: RunStatus;
  /** Newest first; default 20, at most 1000. */
  readonly limit?: number;
}

/**
 * Pipelines, runs and per-object run statistics. Implementations: SqliteControlStore
 * (sqlite-store.ts) and PostgresControlStore (postgres-store.ts), both passing
 * test/control/store.test.ts. Migrations run when the store is opened (see `openControlStore`).
 * Every method may throw ControlStoreError (store.ts) when the database fails.
 */
export interface ControlStore {
  readonly kind: 'sqlite' | 'postgres';

  /** Throws PipelineExistsError ("a pipeline named X already exists") when the name is taken. */
  createPipeline(input: PipelineInput): Promise<Pipeline>;
  /** Ordered by name. */
  listPipelines(): Promise<Pipeline[]>;
  getPipeline(id: number): Promise<Pipeline | null>;
  /** By exact name first, then by id when `ref` is a whole number. */
  findPipeline(ref: string): Promise<Pipeline | null>;
  /** Throws PipelineNotFoundError, or PipelineExistsError on a rename to a taken name. */
  updatePipeline(id: number, update: PipelineUpdate): Promise<Pipeline>;
  /** Deletes the pipeline and its runs; false when there was none. */
  deletePipeline(id: number): Promise<boolean>;
  /** Decrypts the token and destination URL. Throws SecretDecryptionError with a wrong key. */
  pipelineSecrets(id: number): Promise<PipelineSecrets>;
  /** Records the start of a completed full refresh. */
  setLastFullRefresh(id: number, at: string): Promise<void>;

  /**
   * Records a new run with status `running`. Throws RunInProgressError when the pipeline already has
   * a running run: the database enforces it, so two processes cannot both start one.
   */
  startRun(input: StartRunInput): Promise<Run>;
  /** Replaces the live per-object statistics of a running run (progress for the API/UI). */
  updateRunProgress(runId: number, objects: readonly RunObjectStats[]): Promise<void>;
  finishRun(runId: number, result: FinishRunInput): Promise<Run>;
  getRun(id: number): Promise<Run | null>;
  /** Newest first. `objects` is filled in for every run. */
  listRuns(query?: ListRunsQuery): Promise<Run[]>;
  /** The most recent run of a pipeline (by start), whatever its status. */
  lastRun(pipelineId: number): Promise<Run | null>;
  /**
   * Marks every `running` run as `interrupted` with `error`. Returns how many were marked. Prefer
   * `recoverStaleRuns` (run-owner.ts), which spares runs whose process is still alive.
   */
  interruptRunningRuns(error: string, at: string): Promise<number>;
  /** Marks one run `interrupted` if it is still running; false when it was not. */
  interruptRun(runId: number, error: string, at: string): Promise<boolean>;

  close(): Promise<void>;
}
