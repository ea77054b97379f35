import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { isFileDestination } from '../../destinations/targets.js';
import type { RunTrigger } from '../types.js';
import { int, text, transaction } from './db.js';
import { ANY_HOST_QUEUE, hostQueue } from './queue.js';
import type { QueuedJob, RunQueue } from './queue.js';

/*
 * The book of queued runs (`run_jobs`), kept with the pg-boss jobs. A slot is the start due for a
 * pipeline `frequency` hours after its last start (or at its creation, before any run); the unique
 * index on (pipeline, due time) makes it enqueued once, however many processes find it due. A
 * job's `basis` is the start of the run the slot was counted from: when a worker takes the job and
 * another run has started since (a "Run now"), the slot has been overtaken and is skipped.
 */

export type JobKind = 'slot' | 'manual';
export type JobState = 'queued' | 'active' | 'done' | 'skipped';

export interface RunJob extends QueuedJob {
  readonly kind: JobKind;
  readonly dueAt: string;
  readonly basis: string | null;
  readonly workerId: string | null;
}

export const triggerOf = (kind: JobKind): RunTrigger => (kind === 'slot' ? 'schedule' : 'manual');

const HOUR_MS = 3_600_000;

/** A pipeline as the dispatcher sees it, in one query for all of them. */
interface DueCandidate {
  readonly id: number;
  readonly frequencyHours: number;
  readonly createdAt: string;
  readonly lastStart: string | null;
  readonly host: string | null;
  readonly destination: string;
}

export class JobBook {
  constructor(
    private readonly pool: pg.Pool,
    private readonly queue: RunQueue,
  ) {}

  /** Enabled pipelines with no job queued or running, with their last start. */
  async #candidates(): Promise<DueCandidate[]> {
    const { rows } = await this.pool.query(
      `SELECT p.id, p.frequency_hours, p.created_at, p.host, p.destination_display,
         (SELECT max(r.started_at) FROM runs r WHERE r.pipeline_id = p.id) AS last_start
       FROM pipelines p
       WHERE p.enabled AND NOT EXISTS (
         SELECT 1 FROM run_jobs j WHERE j.pipeline_id = p.id AND j.state IN ('queued', 'active'))`,
    );
    return rows.map((r) => ({
      id: int(r.id),
      frequencyHours: int(r.frequency_hours),
      createdAt: String(r.created_at),
      lastStart: text(r.last_start),
      host: text(r.host),
      destination: String(r.destination_display),
    }));
  }

  /**
   * Enqueues every slot due at `now` (control clock, ms) not enqueued yet; returns how many this
   * call enqueued. A process down for hours finds one slot per pipeline, not one per missed hour.
   */
  async enqueueDue(now: number): Promise<number> {
    let enqueued = 0;
    for (const p of await this.#candidates()) {
      const dueAt =
        p.lastStart === null
          ? p.createdAt
          : new Date(Date.parse(p.lastStart) + p.frequencyHours * HOUR_MS).toISOString();
      if (Date.parse(dueAt) > now) continue;
      const queue = await this.#queueFor(p);
      if (await this.#add({ pipelineId: p.id, queue, kind: 'slot', dueAt, basis: p.lastStart }, now))
        enqueued++;
    }
    return enqueued;
  }

  /** A pipeline saved before workers existed has no host: its SQLite file is on the machine running it so far. */
  async #queueFor(p: Pick<DueCandidate, 'id' | 'host' | 'destination'>): Promise<string> {
    if (p.host !== null) return hostQueue(p.host);
    if (!isFileDestination(p.destination)) return ANY_HOST_QUEUE;
    const { rows } = await this.pool.query(
      'UPDATE pipelines SET host = COALESCE(host, $2) WHERE id = $1 RETURNING host',
      [p.id, hostname()],
    );
    return hostQueue(String(rows[0]?.host ?? hostname()));
  }

  /** Enqueues a "Run now"; returns its job id, or null when one is already queued or running. */
  async enqueueManual(pipelineId: number, now: number): Promise<string | null> {
    const { rows } = await this.pool.query(
      'SELECT id, host, destination_display FROM pipelines WHERE id = $1',
      [pipelineId],
    );
    if (rows.length === 0) return null;
    const queue = await this.#queueFor({
      id: pipelineId,
      host: text(rows[0].host),
      destination: String(rows[0].destination_display),
    });
    const dueAt = new Date(now).toISOString();
    return this.#add({ pipelineId, queue, kind: 'manual', dueAt, basis: null }, now);
  }

  async #add(
    job: { pipelineId: number; queue: string; kind: JobKind; dueAt: string; basis: string | null },
    now: number,
  ): Promise<string | null> {
    const id = randomUUID();
    await this.queue.ensure(job.queue);
    return transaction(this.pool, async (client) => {
      if (job.kind === 'manual') {
        const pending = await client.query(
          "SELECT 1 FROM run_jobs WHERE pipeline_id = $1 AND kind = 'manual' AND state IN ('queued', 'active')",
          [job.pipelineId],
        );
        if (pending.rows.length > 0) return null;
      }
      const inserted = await client.query(
        `INSERT INTO run_jobs (id, queue, pipeline_id, kind, due_at, basis, state, enqueued_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7) ON CONFLICT DO NOTHING RETURNING id`,
        [id, job.queue, job.pipelineId, job.kind, job.dueAt, job.basis, new Date(now).toISOString()],
      );
      if (inserted.rows.length === 0) return null;
      await this.queue.send({ id, queue: job.queue, pipelineId: job.pipelineId }, client);
      return id;
    });
  }

  /** Records that `workerId` holds the job; null when the book has no such job (it is then dropped). */
  async claim(job: QueuedJob, workerId: string, now: number): Promise<RunJob | null> {
    const { rows } = await this.pool.query(
      `UPDATE run_jobs SET state = 'active', worker_id = $2, claimed_at = $3
       WHERE id = $1 AND state IN ('queued', 'active') RETURNING *`,
      [job.id, workerId, new Date(now).toISOString()],
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      id: job.id,
      queue: job.queue,
      pipelineId: int(r.pipeline_id),
      kind: String(r.kind) as JobKind,
      dueAt: String(r.due_at),
      basis: text(r.basis),
      workerId,
    };
  }

  /** Whether a run other than this job's started after the slot's basis (the slot is overtaken). */
  async overtaken(job: RunJob): Promise<boolean> {
    const { rows } = await this.pool.query(
      `SELECT 1 FROM runs WHERE pipeline_id = $1 AND (job_id IS NULL OR job_id <> $2) AND started_at > $3 LIMIT 1`,
      [job.pipelineId, job.id, job.basis ?? ''],
    );
    return rows.length > 0;
  }

  /** Ids of this job's runs still `running` (left by a worker that lost it). */
  async runningRuns(jobId: string): Promise<number[]> {
    const { rows } = await this.pool.query("SELECT id FROM runs WHERE job_id = $1 AND status = 'running'", [
      jobId,
    ]);
    return rows.map((r) => int(r.id));
  }

  async markStarted(jobId: string, startedAt: string): Promise<void> {
    await this.pool.query('UPDATE run_jobs SET started_at = COALESCE(started_at, $2) WHERE id = $1', [
      jobId,
      startedAt,
    ]);
  }

  /** The job ran (or was skipped, with why): final in the book and in the queue. */
  async finish(job: RunJob, state: 'done' | 'skipped', note: string | null, now: number): Promise<void> {
    await this.pool.query(
      `UPDATE run_jobs SET state = $2, note = $3, finished_at = $4 WHERE id = $1 AND worker_id = $5`,
      [job.id, state, note, new Date(now).toISOString(), job.workerId],
    );
    await this.queue.complete(job);
  }

  /** Gives the job back for another worker, unless someone already took it from this worker. */
  async handBack(job: Pick<RunJob, 'id' | 'queue' | 'workerId'>, note: string): Promise<boolean> {
    const { rows } = await this.pool.query(
      `UPDATE run_jobs SET state = 'queued', worker_id = NULL, note = $3
       WHERE id = $1 AND worker_id = $2 AND state = 'active' RETURNING id`,
      [job.id, job.workerId, note],
    );
    if (rows.length === 0) return false;
    await this.queue.handBack(job);
    return true;
  }

  /** The jobs a worker holds. */
  async heldBy(workerId: string): Promise<Array<Pick<RunJob, 'id' | 'queue' | 'workerId'>>> {
    const { rows } = await this.pool.query(
      "SELECT id, queue FROM run_jobs WHERE worker_id = $1 AND state = 'active'",
      [workerId],
    );
    return rows.map((r) => ({ id: String(r.id), queue: String(r.queue), workerId }));
  }

  /** The newest start delays (start minus due, ms) of slots started in the last `windowMs` of the control clock. */
  async startDelays(now: number, windowMs: number): Promise<number[]> {
    const { rows } = await this.pool.query(
      `SELECT due_at, started_at FROM run_jobs WHERE kind = 'slot' AND started_at IS NOT NULL AND started_at > $1
       ORDER BY started_at DESC LIMIT 10000`,
      [new Date(now - windowMs).toISOString()],
    );
    return rows.map((r) => Date.parse(String(r.started_at)) - Date.parse(String(r.due_at)));
  }
}
