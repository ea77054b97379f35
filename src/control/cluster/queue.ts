import { hostname } from 'node:os';
import type pg from 'pg';
import PgBoss from 'pg-boss';

/*
 * The run queue: pg-boss, in its own schema beside the control store's. A job is one run to make
 * (a pipeline's scheduled slot, or a "Run now"); its row in `run_jobs` has the same id and says
 * which slot it is and which worker holds it. Pipelines with a SQLite destination go to the queue
 * of the host that owns the file; the others to the queue every worker reads.
 */

export const ANY_HOST_QUEUE = 'harvest_sync_runs';

/** The queue of the workers of one machine. */
export function hostQueue(host: string): string {
  return `harvest_sync_runs_host_${host.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`;
}

/** The queues this machine's workers read: every host's, then their own. */
export function queuesOf(host: string = hostname()): string[] {
  return [ANY_HOST_QUEUE, hostQueue(host)];
}

export interface QueuedJob {
  readonly id: string;
  readonly queue: string;
  readonly pipelineId: number;
}

/** Hand-backs (a drain, a lost worker) each cost a retry: never run out of them. */
const RETRY_LIMIT = 100_000;
/** A run may take hours; a worker's death is caught by heartbeats long before this. */
const EXPIRE_HOURS = 23;

export interface RunQueueOptions {
  readonly connectionString: string;
  /** The control store's schema; pg-boss lives in `<schema>_queue`. */
  readonly schema: string;
  readonly onError?: (message: string) => void;
}

export class RunQueue {
  readonly #boss: PgBoss;
  readonly #schema: string;
  readonly #queues = new Set<string>();

  private constructor(boss: PgBoss, schema: string) {
    this.#boss = boss;
    this.#schema = schema;
  }

  static async open(options: RunQueueOptions): Promise<RunQueue> {
    const schema = `${options.schema}_queue`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 50);
    const boss = new PgBoss({
      connectionString: options.connectionString,
      schema,
      max: 3,
      // our own dispatcher makes the slots; pg-boss's cron is not used
      schedule: false,
      supervise: true,
      migrate: true,
    });
    boss.on('error', (error: Error) => options.onError?.(`job queue: ${error.message.split('\n')[0]}`));
    await boss.start();
    return new RunQueue(boss, schema);
  }

  /** The schema pg-boss keeps its jobs in. */
  get schema(): string {
    return this.#schema;
  }

  async ensure(queue: string): Promise<void> {
    if (this.#queues.has(queue)) return;
    await this.#boss.createQueue(queue, { name: queue, policy: 'standard' });
    this.#queues.add(queue);
  }

  /** Adds the job inside the caller's transaction (with its `run_jobs` row), so both exist or neither. */
  async send(job: QueuedJob, client: pg.PoolClient): Promise<void> {
    await this.ensure(job.queue);
    await this.#boss.send(
      job.queue,
      { pipelineId: job.pipelineId },
      {
        id: job.id,
        retryLimit: RETRY_LIMIT,
        retryDelay: 0,
        expireInHours: EXPIRE_HOURS,
        db: { executeSql: (text, values) => client.query(text, values) },
      },
    );
  }

  /** Claims up to `count` jobs of `queue`. */
  async fetch(queue: string, count: number): Promise<QueuedJob[]> {
    if (count <= 0) return [];
    await this.ensure(queue);
    const jobs = await this.#boss.fetch<{ pipelineId?: unknown }>(queue, { batchSize: count });
    return jobs.map((job) => ({ id: job.id, queue, pipelineId: Number(job.data.pipelineId) }));
  }

  async complete(job: Pick<QueuedJob, 'id' | 'queue'>): Promise<void> {
    await this.#boss.complete(job.queue, job.id);
  }

  /** Puts a claimed job back in its queue, for any worker to take at once. */
  async handBack(job: Pick<QueuedJob, 'id' | 'queue'>): Promise<void> {
    await this.#boss.fail(job.queue, job.id, { handedBack: true });
  }

  /** Jobs waiting (created or to retry), per queue. */
  async depth(pool: pg.Pool): Promise<Map<string, number>> {
    const { rows } = await pool.query<{ name: string; n: string }>(
      `SELECT name, count(*) AS n FROM "${this.#schema}".job WHERE state < 'active' GROUP BY name`,
    );
    return new Map(rows.map((r) => [r.name, Number(r.n)]));
  }

  async stop(): Promise<void> {
    await this.#boss.stop({ graceful: false, wait: true, close: true }).catch(() => undefined);
  }
}
