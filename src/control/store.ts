import { OBJECT_NAMES } from '../catalog/objects.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { hostname } from 'node:os';
import { parseDestinationUrl, redactUrl } from '../destinations/targets.js';
import { ConfigError, HarvestSyncError } from '../errors.js';
import type { SecretBox } from './secrets.js';
import { tokenHint } from './secrets.js';
import type {
  ControlStore,
  FinishRunInput,
  ListRunsQuery,
  Pipeline,
  PipelineInput,
  PipelineSecrets,
  PipelineUpdate,
  Run,
  RunObjectStats,
  RunTotals,
  StartRunInput,
} from './types.js';

/*
 * One implementation of ControlStore over a tiny SQL seam (SqlDriver), so the SQLite and PostgreSQL
 * stores share every query and differ only in their driver and DDL. Queries are written with `$1`
 * placeholders (the SQLite driver rewrites them to `@p1`), timestamps are ISO 8601 UTC text in both
 * engines (fixed width, so they sort as text), booleans are bound as booleans and read back with
 * `Boolean()` (SQLite stores 0/1).
 */

/** The control store's database failed (unreachable, locked, disk full…). */
export class ControlStoreError extends HarvestSyncError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('CONTROL_STORE_FAILED', message, options);
  }
}

export class PipelineExistsError extends ConfigError {
  constructor(name: string) {
    super(`a pipeline named "${name}" already exists`);
  }
}

export class PipelineNotFoundError extends HarvestSyncError {
  constructor(ref: string | number) {
    super('PIPELINE_NOT_FOUND', `no pipeline named or numbered "${ref}"`);
  }
}

export class RunNotFoundError extends HarvestSyncError {
  constructor(id: number | string) {
    super('RUN_NOT_FOUND', `no run numbered "${id}"`);
  }
}

/** The pipeline already has a run in progress (here or in another process). */
export class RunInProgressError extends HarvestSyncError {
  constructor(pipelineName: string, runId?: number) {
    super(
      'RUN_IN_PROGRESS',
      `pipeline "${pipelineName}" is already running${runId === undefined ? '' : ` (run ${runId})`}; wait for it to finish`,
    );
  }
}

export type SqlParam = string | number | boolean | null;
export type SqlRow = Record<string, unknown>;

/** What a store needs from a database connection. Statements use `$1`-style placeholders. */
export interface SqlExecutor {
  all(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]>;
  run(sql: string, params?: readonly SqlParam[]): Promise<void>;
}

export interface SqlDriver extends SqlExecutor {
  readonly kind: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; no other statement of this driver interleaves with it. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  isUniqueViolation(error: unknown): boolean;
  close(): Promise<void>;
}

/** A numbered schema change. Append-only: a released migration is never edited. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction with its
 * record, so a crash leaves the schema at a known version. `lock` serialises concurrent starters.
 */
export async function migrate(
  driver: SqlDriver,
  migrations: readonly Migration[],
  lock: (tx: SqlExecutor) => Promise<void>,
  clock: Clock,
): Promise<void> {
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    await driver.transaction(async (tx) => {
      await lock(tx);
      // Under the lock: two processes starting on an empty database must not both create it.
      await tx.run(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      const done = await tx.all('SELECT version FROM schema_migrations WHERE version = $1', [
        migration.version,
      ]);
      if (done.length > 0) return;
      for (const statement of migration.statements) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        new Date(clock.now()).toISOString(),
      ]);
    });
  }
}

const DEFAULT_RUN_LIMIT = 20;
const MAX_RUN_LIMIT = 1000;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** What `lookup` found, or the error `missing` makes when it found nothing. */
async function found<T>(lookup: Promise<T | null>, missing: () => Error): Promise<T> {
  const value = await lookup;
  if (value === null) throw missing();
  return value;
}

function totalsOf(objects: readonly RunObjectStats[]): RunTotals {
  const sum = (key: Exclude<keyof RunTotals, 'unchanged'>) => objects.reduce((n, o) => n + o[key], 0);
  const unchanged = objects.map((o) => o.unchanged);
  return {
    read: sum('read'),
    inserted: sum('inserted'),
    updated: sum('updated'),
    unchanged: unchanged.includes(null) ? null : unchanged.reduce<number>((n, u) => n + (u ?? 0), 0),
    deleted: sum('deleted'),
    calls: sum('calls'),
    rateLimitWaits: sum('rateLimitWaits'),
  };
}

const PIPELINE_COLUMNS =
  'id, name, token_last4, account_id, destination_display, objects, frequency_hours, since, full_refresh_hours, base_url, enabled, created_at, updated_at, last_full_refresh_at, host';
const RUN_COLUMNS =
  'id, pipeline_id, trigger, status, started_at, finished_at, error, full_refresh, total_read, total_inserted, total_updated, total_unchanged, total_deleted, total_calls, total_rate_limit_waits, owner, job_id';

/** The machine a pipeline's SQLite file lives on (the one saving it); null for server databases. */
function destinationHost(url: string): string | null {
  try {
    return parseDestinationUrl(url).kind === 'sqlite' ? hostname() : null;
  } catch {
    return null;
  }
}

export interface SqlControlStoreOptions {
  readonly secrets: SecretBox;
  readonly clock?: Clock;
}

/** ControlStore over any SqlDriver. Construct through openSqliteControlStore / openPostgresControlStore. */
export class SqlControlStore implements ControlStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly #db: SqlDriver;
  readonly #secrets: SecretBox;
  readonly #clock: Clock;

  constructor(driver: SqlDriver, options: SqlControlStoreOptions) {
    this.kind = driver.kind;
    this.#db = driver;
    this.#secrets = options.secrets;
    this.#clock = options.clock ?? systemClock;
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof HarvestSyncError) throw error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new ControlStoreError(`control store: cannot ${what}: ${reason}`, { cause: error });
    }
  }

  async #nameTaken(tx: SqlExecutor, name: string, exceptId?: number): Promise<boolean> {
    const rows = await tx.all('SELECT id FROM pipelines WHERE lower(name) = lower($1)', [name]);
    return rows.some((r) => num(r.id) !== exceptId);
  }

  #encryptDestination(id: number, url: string): { display: string; secret: string | null } {
    const display = redactUrl(url);
    return {
      display,
      // Only a URL carrying a password is worth encrypting; the display form is the URL otherwise.
      secret: display === url ? null : this.#secrets.encrypt(url, `pipeline:${id}:destination`),
    };
  }

  createPipeline(input: PipelineInput): Promise<Pipeline> {
    return this.#guard('create the pipeline', async () => {
      try {
        const id = await this.#db.transaction(async (tx) => {
          if (await this.#nameTaken(tx, input.name)) throw new PipelineExistsError(input.name);
          const now = this.#now();
          // The id is part of the secrets' AAD, so the row is inserted first and its secrets set after.
          const [row] = await tx.all(
            `INSERT INTO pipelines (name, token_enc, token_last4, account_id, destination_display, objects,
               frequency_hours, since, full_refresh_hours, base_url, enabled, created_at, updated_at)
             VALUES ($1, '', $2, $3, '', $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
            [
              input.name,
              tokenHint(input.token),
              input.accountId,
              JSON.stringify(input.objects),
              input.frequencyHours,
              input.since,
              input.fullRefreshHours,
              input.baseUrl,
              input.enabled,
              now,
            ],
          );
          const id = num(row.id);
          const destination = this.#encryptDestination(id, input.destination);
          await tx.run(
            'UPDATE pipelines SET token_enc = $1, destination_display = $2, destination_enc = $3, host = $4 WHERE id = $5',
            [
              this.#secrets.encrypt(input.token, `pipeline:${id}:token`),
              destination.display,
              destination.secret,
              destinationHost(input.destination),
              id,
            ],
          );
          return id;
        });
        return await this.#mustGetPipeline(id);
      } catch (error) {
        if (this.#db.isUniqueViolation(error)) throw new PipelineExistsError(input.name);
        throw error;
      }
    });
  }

  listPipelines(): Promise<Pipeline[]> {
    return this.#guard('list pipelines', async () => {
      const rows = await this.#db.all(`SELECT ${PIPELINE_COLUMNS} FROM pipelines ORDER BY lower(name), id`);
      return rows.map(toPipeline);
    });
  }

  getPipeline(id: number): Promise<Pipeline | null> {
    return this.#guard('read the pipeline', async () => {
      if (!Number.isSafeInteger(id)) return null;
      const rows = await this.#db.all(`SELECT ${PIPELINE_COLUMNS} FROM pipelines WHERE id = $1`, [id]);
      return rows.length > 0 ? toPipeline(rows[0]) : null;
    });
  }

  #mustGetPipeline(id: number): Promise<Pipeline> {
    return found(this.getPipeline(id), () => new PipelineNotFoundError(id));
  }

  findPipeline(ref: string): Promise<Pipeline | null> {
    return this.#guard('find the pipeline', async () => {
      const name = ref.trim();
      const exact = await this.#db.all(`SELECT ${PIPELINE_COLUMNS} FROM pipelines WHERE name = $1`, [name]);
      if (exact.length > 0) return toPipeline(exact[0]);
      const folded = await this.#db.all(
        `SELECT ${PIPELINE_COLUMNS} FROM pipelines WHERE lower(name) = lower($1)`,
        [name],
      );
      if (folded.length > 0) return toPipeline(folded[0]);
      return /^\d{1,15}$/.test(name) ? this.getPipeline(Number(name)) : null;
    });
  }

  updatePipeline(id: number, update: PipelineUpdate): Promise<Pipeline> {
    return this.#guard('update the pipeline', async () => {
      try {
        await this.#db.transaction(async (tx) => {
          const exists = await tx.all('SELECT id FROM pipelines WHERE id = $1', [id]);
          if (exists.length === 0) throw new PipelineNotFoundError(id);
          if (update.name !== undefined && (await this.#nameTaken(tx, update.name, id)))
            throw new PipelineExistsError(update.name);
          const sets: string[] = [];
          const params: SqlParam[] = [];
          const set = (column: string, value: SqlParam) => {
            params.push(value);
            sets.push(`${column} = $${params.length}`);
          };
          if (update.name !== undefined) set('name', update.name);
          if (update.token !== undefined) {
            set('token_enc', this.#secrets.encrypt(update.token, `pipeline:${id}:token`));
            set('token_last4', tokenHint(update.token));
          }
          if (update.accountId !== undefined) set('account_id', update.accountId);
          if (update.destination !== undefined) {
            const destination = this.#encryptDestination(id, update.destination);
            set('destination_display', destination.display);
            set('destination_enc', destination.secret);
            set('host', destinationHost(update.destination));
          }
          if (update.objects !== undefined) set('objects', JSON.stringify(update.objects));
          if (update.frequencyHours !== undefined) set('frequency_hours', update.frequencyHours);
          if (update.since !== undefined) set('since', update.since);
          if (update.fullRefreshHours !== undefined) set('full_refresh_hours', update.fullRefreshHours);
          if (update.baseUrl !== undefined) set('base_url', update.baseUrl);
          if (update.enabled !== undefined) set('enabled', update.enabled);
          set('updated_at', this.#now());
          params.push(id);
          await tx.run(`UPDATE pipelines SET ${sets.join(', ')} WHERE id = $${params.length}`, params);
        });
      } catch (error) {
        if (update.name !== undefined && this.#db.isUniqueViolation(error))
          throw new PipelineExistsError(update.name);
        throw error;
      }
      return this.#mustGetPipeline(id);
    });
  }

  deletePipeline(id: number): Promise<boolean> {
    return this.#guard('delete the pipeline', () =>
      this.#db.transaction(async (tx) => {
        const rows = await tx.all('SELECT id FROM pipelines WHERE id = $1', [id]);
        if (rows.length === 0) return false;
        await tx.run('DELETE FROM run_objects WHERE run_id IN (SELECT id FROM runs WHERE pipeline_id = $1)', [
          id,
        ]);
        await tx.run('DELETE FROM runs WHERE pipeline_id = $1', [id]);
        await tx.run('DELETE FROM pipelines WHERE id = $1', [id]);
        return true;
      }),
    );
  }

  pipelineSecrets(id: number): Promise<PipelineSecrets> {
    return this.#guard('read the pipeline secrets', async () => {
      const rows = await this.#db.all(
        'SELECT token_enc, destination_display, destination_enc FROM pipelines WHERE id = $1',
        [id],
      );
      if (rows.length === 0) throw new PipelineNotFoundError(id);
      const row = rows[0];
      const destinationEnc = str(row.destination_enc);
      return {
        token: this.#secrets.decrypt(String(row.token_enc), `pipeline:${id}:token`),
        destinationUrl:
          destinationEnc === null
            ? String(row.destination_display)
            : this.#secrets.decrypt(destinationEnc, `pipeline:${id}:destination`),
      };
    });
  }

  setLastFullRefresh(id: number, at: string): Promise<void> {
    return this.#guard('record the full refresh', () =>
      this.#db.run('UPDATE pipelines SET last_full_refresh_at = $1 WHERE id = $2', [at, id]),
    );
  }

  startRun(input: StartRunInput): Promise<Run> {
    return this.#guard('record the run', async () => {
      const pipeline = await this.#mustGetPipeline(input.pipelineId);
      let id: number;
      try {
        id = await this.#db.transaction(async (tx) => {
          const running = await tx.all("SELECT id FROM runs WHERE pipeline_id = $1 AND status = 'running'", [
            input.pipelineId,
          ]);
          if (running.length > 0) throw new RunInProgressError(pipeline.name, num(running[0].id));
          const [row] = await tx.all(
            `INSERT INTO runs (pipeline_id, trigger, status, started_at, full_refresh, owner, job_id)
             VALUES ($1, $2, 'running', $3, $4, $5, $6) RETURNING id`,
            [
              input.pipelineId,
              input.trigger,
              input.startedAt,
              input.fullRefresh,
              input.owner ?? null,
              input.jobId ?? null,
            ],
          );
          return num(row.id);
        });
      } catch (error) {
        // The partial unique index (one running run per pipeline) catches a start racing ours.
        if (this.#db.isUniqueViolation(error)) throw new RunInProgressError(pipeline.name);
        throw error;
      }
      return this.#mustGetRun(id);
    });
  }

  async #writeObjects(tx: SqlExecutor, runId: number, objects: readonly RunObjectStats[]): Promise<void> {
    for (const o of objects) {
      await tx.run(
        `INSERT INTO run_objects (run_id, object, status, mode, records_read, inserted, updated, unchanged, deleted,
           calls, rate_limit_waits, retries, seconds, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (run_id, object) DO UPDATE SET status = excluded.status, mode = excluded.mode,
           records_read = excluded.records_read, inserted = excluded.inserted, updated = excluded.updated,
           unchanged = excluded.unchanged, deleted = excluded.deleted, calls = excluded.calls,
           rate_limit_waits = excluded.rate_limit_waits, retries = excluded.retries, seconds = excluded.seconds,
           reason = excluded.reason`,
        [
          runId,
          o.object,
          o.status,
          o.mode,
          o.read,
          o.inserted,
          o.updated,
          o.unchanged,
          o.deleted,
          o.calls,
          o.rateLimitWaits,
          o.retries,
          o.seconds,
          o.reason,
        ],
      );
    }
    const all = (await tx.all('SELECT * FROM run_objects WHERE run_id = $1', [runId])).map(toRunObject);
    const t = totalsOf(all);
    await tx.run(
      `UPDATE runs SET total_read = $1, total_inserted = $2, total_updated = $3, total_unchanged = $4,
         total_deleted = $5, total_calls = $6, total_rate_limit_waits = $7 WHERE id = $8`,
      [t.read, t.inserted, t.updated, t.unchanged, t.deleted, t.calls, t.rateLimitWaits, runId],
    );
  }

  updateRunProgress(runId: number, objects: readonly RunObjectStats[]): Promise<void> {
    return this.#guard('record run progress', () =>
      this.#db.transaction(async (tx) => {
        const rows = await tx.all('SELECT status FROM runs WHERE id = $1', [runId]);
        if (rows.length === 0) throw new RunNotFoundError(runId);
        // A late progress update must not overwrite the final statistics of a finished run.
        if (rows[0].status !== 'running') return;
        await this.#writeObjects(tx, runId, objects);
      }),
    );
  }

  finishRun(runId: number, result: FinishRunInput): Promise<Run> {
    return this.#guard('record the end of the run', async () => {
      await this.#db.transaction(async (tx) => {
        const rows = await tx.all('SELECT id FROM runs WHERE id = $1', [runId]);
        if (rows.length === 0) throw new RunNotFoundError(runId);
        await this.#writeObjects(tx, runId, result.objects);
        await tx.run('UPDATE runs SET status = $1, finished_at = $2, error = $3 WHERE id = $4', [
          result.status,
          result.finishedAt,
          result.error,
          runId,
        ]);
      });
      return this.#mustGetRun(runId);
    });
  }

  #mustGetRun(id: number): Promise<Run> {
    return found(this.getRun(id), () => new RunNotFoundError(id));
  }

  getRun(id: number): Promise<Run | null> {
    return this.#guard('read the run', async () => {
      if (!Number.isSafeInteger(id)) return null;
      const runs = await this.#db.all(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [id]);
      if (runs.length === 0) return null;
      const objects = await this.#db.all('SELECT * FROM run_objects WHERE run_id = $1', [id]);
      return toRun(runs[0], objects);
    });
  }

  listRuns(query: ListRunsQuery = {}): Promise<Run[]> {
    return this.#guard('list runs', async () => {
      const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? DEFAULT_RUN_LIMIT)), MAX_RUN_LIMIT);
      const params: SqlParam[] = [limit];
      const conditions: string[] = [];
      if (query.pipelineId !== undefined) {
        params.push(query.pipelineId);
        conditions.push(`pipeline_id = $${params.length}`);
      }
      if (query.status !== undefined) {
        params.push(query.status);
        conditions.push(`status = $${params.length}`);
      }
      const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
      const selected = `SELECT id FROM runs ${where} ORDER BY started_at DESC, id DESC LIMIT $1`;
      const runs = await this.#db.all(
        `SELECT ${RUN_COLUMNS} FROM runs WHERE id IN (${selected}) ORDER BY started_at DESC, id DESC`,
        params,
      );
      const objects = await this.#db.all(`SELECT * FROM run_objects WHERE run_id IN (${selected})`, params);
      return runs.map((run) =>
        toRun(
          run,
          objects.filter((o) => num(o.run_id) === num(run.id)),
        ),
      );
    });
  }

  lastRun(pipelineId: number): Promise<Run | null> {
    return this.#guard('read the last run', async () => {
      const [run] = await this.listRuns({ pipelineId, limit: 1 });
      return run ?? null;
    });
  }

  interruptRunningRuns(error: string, at: string): Promise<number> {
    return this.#guard('recover runs left running', () =>
      this.#db.transaction(async (tx) => {
        const rows = await tx.all("SELECT id FROM runs WHERE status = 'running'");
        for (const row of rows) {
          await tx.run(
            "UPDATE run_objects SET status = 'interrupted' WHERE run_id = $1 AND status = 'running'",
            [num(row.id)],
          );
        }
        await tx.run(
          "UPDATE runs SET status = 'interrupted', finished_at = $1, error = $2 WHERE status = 'running'",
          [at, error],
        );
        return rows.length;
      }),
    );
  }

  interruptRun(runId: number, error: string, at: string): Promise<boolean> {
    return this.#guard('mark the run interrupted', () =>
      this.#db.transaction(async (tx) => {
        const rows = await tx.all("SELECT id FROM runs WHERE id = $1 AND status = 'running'", [runId]);
        if (rows.length === 0) return false;
        await tx.run(
          "UPDATE run_objects SET status = 'interrupted' WHERE run_id = $1 AND status = 'running'",
          [runId],
        );
        await tx.run("UPDATE runs SET status = 'interrupted', finished_at = $1, error = $2 WHERE id = $3", [
          at,
          error,
          runId,
        ]);
        return true;
      }),
    );
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

function toPipeline(row: SqlRow): Pipeline {
  return {
    id: num(row.id),
    name: String(row.name),
    tokenLast4: String(row.token_last4),
    accountId: String(row.account_id),
    destination: String(row.destination_display),
    objects: JSON.parse(String(row.objects)) as string[],
    frequencyHours: num(row.frequency_hours),
    since: str(row.since),
    fullRefreshHours: num(row.full_refresh_hours),
    baseUrl: String(row.base_url),
    enabled: Boolean(row.enabled),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    lastFullRefreshAt: str(row.last_full_refresh_at),
    host: str(row.host),
  };
}

/** The counts of a run (its `total_*` columns) or of one of its objects, as stored. */
function countsOf(row: SqlRow, columns: { prefix: string; read: string }): RunTotals {
  const count = (name: string) => num(row[columns.prefix + name]);
  return {
    read: num(row[columns.read]),
    inserted: count('inserted'),
    updated: count('updated'),
    unchanged: numOrNull(row[`${columns.prefix}unchanged`]),
    deleted: count('deleted'),
    calls: count('calls'),
    rateLimitWaits: count('rate_limit_waits'),
  };
}

function toRunObject(row: SqlRow): RunObjectStats {
  return {
    object: String(row.object),
    status: String(row.status) as RunObjectStats['status'],
    mode: String(row.mode) as RunObjectStats['mode'],
    ...countsOf(row, { prefix: '', read: 'records_read' }),
    retries: num(row.retries),
    seconds: num(row.seconds),
    reason: str(row.reason),
  };
}

function toRun(row: SqlRow, objectRows: readonly SqlRow[]): Run {
  const order = (name: string) => {
    const i = OBJECT_NAMES.indexOf(name);
    return i === -1 ? OBJECT_NAMES.length : i;
  };
  return {
    id: num(row.id),
    pipelineId: num(row.pipeline_id),
    trigger: String(row.trigger) as Run['trigger'],
    status: String(row.status) as Run['status'],
    startedAt: String(row.started_at),
    finishedAt: str(row.finished_at),
    error: str(row.error),
    fullRefresh: Boolean(row.full_refresh),
    totals: countsOf(row, { prefix: 'total_', read: 'total_read' }),
    objects: objectRows.map(toRunObject).sort((a, b) => order(a.object) - order(b.object)),
    owner: str(row.owner),
    jobId: str(row.job_id),
  };
}

/**
 * The control schema, as the two engines spell it. `id` columns differ; everything else is the same.
 * Version 1 is the initial schema.
 */
export function controlMigrations(kind: 'sqlite' | 'postgres'): Migration[] {
  const id =
    kind === 'sqlite'
      ? 'INTEGER PRIMARY KEY AUTOINCREMENT'
      : 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY';
  const bool = kind === 'sqlite' ? 'INTEGER' : 'BOOLEAN';
  const real = kind === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  const fk = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    {
      version: 1,
      name: 'pipelines, runs and run objects',
      statements: [
        `CREATE TABLE pipelines (
          id ${id},
          name TEXT NOT NULL,
          token_enc TEXT NOT NULL,
          token_last4 TEXT NOT NULL,
          account_id TEXT NOT NULL,
          destination_display TEXT NOT NULL,
          destination_enc TEXT,
          objects TEXT NOT NULL,
          frequency_hours INTEGER NOT NULL,
          since TEXT,
          full_refresh_hours INTEGER NOT NULL,
          base_url TEXT NOT NULL,
          enabled ${bool} NOT NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          last_full_refresh_at TEXT
        )`,
        // Names are looked up case-insensitively, so two may not differ only by case.
        'CREATE UNIQUE INDEX pipelines_name_key ON pipelines (lower(name))',
        `CREATE TABLE runs (
          id ${id},
          pipeline_id ${fk} NOT NULL REFERENCES pipelines (id),
          trigger TEXT NOT NULL,
          status TEXT NOT NULL,
          started_at TEXT NOT NULL,
          finished_at TEXT,
          error TEXT,
          full_refresh ${bool} NOT NULL,
          total_read ${fk} NOT NULL DEFAULT 0,
          total_inserted ${fk} NOT NULL DEFAULT 0,
          total_updated ${fk} NOT NULL DEFAULT 0,
          total_deleted ${fk} NOT NULL DEFAULT 0,
          total_calls ${fk} NOT NULL DEFAULT 0,
          total_rate_limit_waits ${fk} NOT NULL DEFAULT 0
        )`,
        'CREATE INDEX runs_pipeline_started ON runs (pipeline_id, started_at)',
        // The database, not only the process, guarantees one running run per pipeline.
        "CREATE UNIQUE INDEX runs_one_running ON runs (pipeline_id) WHERE status = 'running'",
        `CREATE TABLE run_objects (
          run_id ${fk} NOT NULL REFERENCES runs (id),
          object TEXT NOT NULL,
          status TEXT NOT NULL,
          mode TEXT NOT NULL,
          records_read ${fk} NOT NULL,
          inserted ${fk} NOT NULL,
          updated ${fk} NOT NULL,
          deleted ${fk} NOT NULL,
          calls ${fk} NOT NULL,
          rate_limit_waits ${fk} NOT NULL,
          retries ${fk} NOT NULL,
          seconds ${real} NOT NULL,
          reason TEXT,
          PRIMARY KEY (run_id, object)
        )`,
      ],
    },
    {
      version: 2,
      name: 'runs record the process running them',
      statements: ['ALTER TABLE runs ADD COLUMN owner TEXT'],
    },
    {
      version: 3,
      name: 'runs count unchanged records apart from updated ones',
      // Null in runs recorded before: their `updated` counted every record that existed.
      statements: [
        `ALTER TABLE run_objects ADD COLUMN unchanged ${fk}`,
        `ALTER TABLE runs ADD COLUMN total_unchanged ${fk}`,
      ],
    },
    {
      version: 4,
      name: 'runs shared by workers: queued jobs, workers, shared rate budgets',
      // Used only with a PostgreSQL control store (src/control/cluster/); created in both so the
      // schemas stay the same.
      statements: [
        'ALTER TABLE pipelines ADD COLUMN host TEXT',
        'ALTER TABLE runs ADD COLUMN job_id TEXT',
        `CREATE TABLE workers (
          id TEXT PRIMARY KEY,
          host TEXT NOT NULL,
          pid INTEGER NOT NULL,
          version TEXT NOT NULL,
          role TEXT NOT NULL,
          max_runs INTEGER NOT NULL,
          status TEXT NOT NULL,
          started_at TEXT NOT NULL,
          heartbeat_at TEXT NOT NULL,
          stopped_at TEXT,
          runs_started ${fk} NOT NULL DEFAULT 0,
          runs_finished ${fk} NOT NULL DEFAULT 0
        )`,
        // One row per queued job (the pg-boss job has the same id); a slot is enqueued once.
        `CREATE TABLE run_jobs (
          id TEXT PRIMARY KEY,
          queue TEXT NOT NULL,
          pipeline_id ${fk} NOT NULL,
          kind TEXT NOT NULL,
          due_at TEXT NOT NULL,
          basis TEXT,
          state TEXT NOT NULL,
          enqueued_at TEXT NOT NULL,
          worker_id TEXT,
          claimed_at TEXT,
          started_at TEXT,
          finished_at TEXT,
          note TEXT
        )`,
        "CREATE UNIQUE INDEX run_jobs_one_per_slot ON run_jobs (pipeline_id, due_at) WHERE kind = 'slot'",
        'CREATE INDEX run_jobs_state ON run_jobs (state, pipeline_id)',
        'CREATE INDEX runs_job ON runs (job_id)',
        `CREATE TABLE rate_budgets (
          account_key TEXT PRIMARY KEY,
          configured INTEGER NOT NULL,
          window_ms INTEGER NOT NULL,
          limit_requests INTEGER NOT NULL,
          adjusted_at ${fk} NOT NULL,
          paused_until ${fk} NOT NULL
        )`,
        `CREATE TABLE rate_grants (
          id ${id},
          account_key TEXT NOT NULL,
          granted_at ${fk} NOT NULL,
          answered_at ${fk}
        )`,
        'CREATE INDEX rate_grants_key ON rate_grants (account_key, granted_at)',
      ],
    },
  ];
}
