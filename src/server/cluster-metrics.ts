import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Cluster } from '../control/cluster/cluster.js';
import type { WorkerInfo } from '../control/cluster/registry.js';

/*
 * What /metrics adds when processes share a PostgreSQL control store: each worker's liveness and
 * load, how many jobs wait per queue, and how late slots start after they fall due. Read from the
 * control store when scraped (once per scrape, however many metrics ask).
 */

interface Snapshot {
  readonly workers: readonly WorkerInfo[];
  readonly depth: ReadonlyMap<string, number>;
  readonly delays: readonly number[];
}

const HOUR_MS = 3_600_000;
/** Several gauges read one snapshot per scrape. */
const SNAPSHOT_TTL_MS = 500;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function registerClusterMetrics(registry: Registry, cluster: Cluster): void {
  let cached: { at: number; value: Promise<Snapshot> } | null = null;
  const snapshot = (): Promise<Snapshot> => {
    if (cached && Date.now() - cached.at < SNAPSHOT_TTL_MS) return cached.value;
    const value = (async () => ({
      workers: await cluster.listWorkers(),
      depth: await cluster.queue.depth(cluster.pool),
      delays: [...(await cluster.book.startDelays(cluster.now(), HOUR_MS))].sort((a, b) => a - b),
    }))();
    cached = { at: Date.now(), value };
    return value;
  };
  const live = (w: WorkerInfo) => w.status === 'running' || w.status === 'stopping';
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (g: Gauge<string>, s: Snapshot) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        fill(this, await snapshot());
      },
    });
  gauge('harvest_sync_workers', 'Workers known to the control store, by status.', ['status'], (g, s) => {
    for (const status of ['running', 'stopping', 'stopped', 'lost'])
      g.set({ status }, s.workers.filter((w) => w.status === status).length);
  });
  gauge(
    'harvest_sync_worker_heartbeat_age_seconds',
    'Seconds since each live worker last beat its heartbeat.',
    ['worker'],
    (g, s) => {
      for (const w of s.workers.filter(live))
        g.set({ worker: w.id }, Math.max(0, (Date.now() - Date.parse(w.lastHeartbeatAt)) / 1000));
    },
  );
  gauge(
    'harvest_sync_worker_runs_in_progress',
    'Runs each live worker has in progress.',
    ['worker'],
    (g, s) => {
      for (const w of s.workers.filter(live)) g.set({ worker: w.id }, w.runsInProgress.length);
    },
  );
  gauge(
    'harvest_sync_worker_runs_started',
    'Runs each live worker has started since it joined.',
    ['worker'],
    (g, s) => {
      for (const w of s.workers.filter(live)) g.set({ worker: w.id }, w.runsStarted);
    },
  );
  gauge('harvest_sync_queue_depth', 'Jobs waiting for a worker, per queue.', ['queue'], (g, s) => {
    for (const [queue, n] of s.depth) g.set({ queue }, n);
  });
  gauge(
    'harvest_sync_slot_start_delay_seconds',
    'Delay between a scheduled slot falling due and its run starting, over the last hour (quantiles).',
    ['quantile'],
    (g, s) => {
      for (const q of [0.5, 0.99]) g.set({ quantile: String(q) }, quantile(s.delays, q) / 1000);
    },
  );
}
