import type pg from 'pg';
import { DB_NOW_ISO, dbIsoAgo, int, text } from './db.js';
import type { Row } from './db.js';

/*
 * Every process taking part (workers, and serve processes that also work) has a row in `workers`
 * and beats it every few seconds. A row whose beat is older than the lost-after bound belongs to a
 * process that died or lost the database: another process marks it `lost` and hands its jobs back.
 */

export type WorkerRole = 'worker' | 'serve';
export type WorkerStatus = 'running' | 'stopping' | 'stopped' | 'lost';

export interface WorkerIdentity {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly role: WorkerRole;
  readonly maxRuns: number;
}

export interface RunInProgress {
  readonly jobId: string;
  readonly pipelineId: number;
  readonly pipeline: string | null;
  readonly runId: number | null;
}

export interface WorkerInfo extends WorkerIdentity {
  readonly status: WorkerStatus;
  readonly startedAt: string;
  readonly lastHeartbeatAt: string;
  readonly stoppedAt: string | null;
  readonly runsStarted: number;
  readonly runsFinished: number;
  readonly runsInProgress: readonly RunInProgress[];
}

function toWorker(row: Row, runs: readonly RunInProgress[]): WorkerInfo {
  return {
    id: String(row.id),
    host: String(row.host),
    pid: int(row.pid),
    version: String(row.version),
    role: String(row.role) as WorkerRole,
    maxRuns: int(row.max_runs),
    status: String(row.status) as WorkerStatus,
    startedAt: String(row.started_at),
    lastHeartbeatAt: String(row.heartbeat_at),
    stoppedAt: text(row.stopped_at),
    runsStarted: int(row.runs_started),
    runsFinished: int(row.runs_finished),
    runsInProgress: runs,
  };
}

/** Stopped and lost workers stay listed this long, so an operator sees what happened. */
const KEEP_GONE_MS = 24 * 3_600_000;

export class WorkerRegistry {
  constructor(private readonly pool: pg.Pool) {}

  /** Adds (or revives, after a restart with the same id) this process's row. */
  async register(me: WorkerIdentity): Promise<void> {
    await this.pool.query(
      `INSERT INTO workers (id, host, pid, version, role, max_runs, status, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'running', ${DB_NOW_ISO}, ${DB_NOW_ISO})
       ON CONFLICT (id) DO UPDATE SET status = 'running', version = excluded.version, role = excluded.role,
         max_runs = excluded.max_runs, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
         stopped_at = NULL, runs_started = 0, runs_finished = 0`,
      [me.id, me.host, me.pid, me.version, me.role, me.maxRuns],
    );
  }

  /** Beats; returns the row's status (`lost` when another process gave up on this one), null if gone. */
  async heartbeat(id: string): Promise<WorkerStatus | null> {
    const { rows } = await this.pool.query(
      `UPDATE workers SET heartbeat_at = ${DB_NOW_ISO} WHERE id = $1 RETURNING status`,
      [id],
    );
    return rows.length === 0 ? null : (String(rows[0].status) as WorkerStatus);
  }

  async setStatus(id: string, status: WorkerStatus): Promise<void> {
    const ended = status === 'stopped' || status === 'lost';
    await this.pool.query(
      `UPDATE workers SET status = $2, stopped_at = ${ended ? DB_NOW_ISO : 'NULL'} WHERE id = $1`,
      [id, status],
    );
  }

  async countRun(id: string, what: 'started' | 'finished'): Promise<void> {
    const column = what === 'started' ? 'runs_started' : 'runs_finished';
    await this.pool.query(`UPDATE workers SET ${column} = ${column} + 1 WHERE id = $1`, [id]);
  }

  /**
   * Marks `lost` the live workers that have not beaten for `lostAfterMs`; returns their ids. One
   * process wins each: the update is the claim.
   */
  async markLost(lostAfterMs: number): Promise<string[]> {
    const { rows } = await this.pool.query(
      `UPDATE workers SET status = 'lost', stopped_at = ${DB_NOW_ISO}
       WHERE status IN ('running', 'stopping') AND heartbeat_at < ${dbIsoAgo('$1')} RETURNING id`,
      [lostAfterMs],
    );
    return rows.map((r) => String(r.id));
  }

  /** Live workers first, then those stopped or lost in the last day; with the runs each holds. */
  async list(): Promise<WorkerInfo[]> {
    await this.pool.query(
      `DELETE FROM workers WHERE status IN ('stopped', 'lost') AND stopped_at < ${dbIsoAgo('$1')}`,
      [KEEP_GONE_MS],
    );
    const { rows } = await this.pool.query(
      `SELECT * FROM workers ORDER BY CASE WHEN status IN ('running', 'stopping') THEN 0 ELSE 1 END, host, pid`,
    );
    const { rows: held } = await this.pool.query(
      `SELECT j.id, j.worker_id, j.pipeline_id, p.name,
         (SELECT max(r.id) FROM runs r WHERE r.job_id = j.id AND r.status = 'running') AS run_id
       FROM run_jobs j LEFT JOIN pipelines p ON p.id = j.pipeline_id
       WHERE j.state = 'active' ORDER BY j.claimed_at`,
    );
    return rows.map((row) =>
      toWorker(
        row,
        held
          .filter((h) => h.worker_id === row.id)
          .map((h) => ({
            jobId: String(h.id),
            pipelineId: int(h.pipeline_id),
            pipeline: text(h.name),
            runId: h.run_id === null ? null : int(h.run_id),
          })),
      ),
    );
  }
}
