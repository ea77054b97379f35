import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunnerEvent } from '../control/pipeline-runner.js';

/**
 * The Prometheus metrics `serve` exposes on `/metrics`. One registry per instance (never prom-client's
 * global one), so two apps in one process — tests — do not share counters.
 */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Feeds one event of a pipeline run (runPipeline's onEvent) into the counters, as it happens. */
  observe(event: RunnerEvent): void;
  /** Prometheus text exposition of every metric. */
  render(): Promise<string>;
  readonly contentType: string;
}

const ROW_CHANGES = ['inserted', 'updated', 'unchanged', 'deleted'] as const;

/** Run durations range from seconds (an incremental pass) to hours (a first full copy). */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const runs = new Counter({
    name: 'harvest_sync_runs_total',
    help: 'Runs finished, by final status.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const records = new Counter({
    name: 'harvest_sync_records_total',
    help: 'Records read from Harvest, by object.',
    labelNames: ['object'] as const,
    registers: [registry],
  });
  const rows = new Counter({
    name: 'harvest_sync_rows_total',
    help:
      'Records written to destinations, by object and change: inserted (new), updated (values changed or ' +
      'undeleted), unchanged (read again, stored as they were), deleted (rows and line items marked deleted).',
    labelNames: ['object', 'change'] as const,
    registers: [registry],
  });
  const apiCalls = new Counter({
    name: 'harvest_sync_api_calls_total',
    help: 'HTTP requests sent to the Harvest API.',
    registers: [registry],
  });
  const reportCalls = new Counter({
    name: 'harvest_sync_report_api_calls_total',
    help: 'HTTP requests sent to the Harvest Reports API (/v2/reports/), which has a budget of its own: 100 per 15 minutes.',
    registers: [registry],
  });
  const rateLimitWaits = new Counter({
    name: 'harvest_sync_rate_limit_waits_total',
    help: 'Times Harvest answered 429 and the run waited before retrying.',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'harvest_sync_run_duration_seconds',
    help: 'Wall-clock duration of finished runs.',
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'harvest_sync_last_success_timestamp_seconds',
    help: 'Unix time at which the last successful run of a pipeline finished.',
    labelNames: ['pipeline'] as const,
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    observe(event) {
      switch (event.type) {
        case 'request':
          apiCalls.inc();
          if (event.path.startsWith('/v2/reports/')) reportCalls.inc();
          break;
        case 'rate-limit':
          // `budget` waits are our own pacing; only Harvest's 429s count here
          if (event.cause === '429') rateLimitWaits.inc();
          break;
        case 'object:page': {
          const { object, written } = event;
          records.inc({ object }, event.records);
          for (const change of ROW_CHANGES) rows.inc({ object, change }, written[change]);
          break;
        }
        case 'run:finished': {
          const { run, pipeline } = event;
          runs.inc({ status: run.status });
          const started = Date.parse(run.startedAt);
          const finished = run.finishedAt === null ? Number.NaN : Date.parse(run.finishedAt);
          if (Number.isFinite(started) && Number.isFinite(finished) && finished >= started) {
            duration.observe((finished - started) / 1000);
          }
          if (run.status === 'succeeded' && Number.isFinite(finished)) {
            lastSuccess.set({ pipeline: pipeline.name }, finished / 1000);
          }
          break;
        }
      }
    },
  };
}
