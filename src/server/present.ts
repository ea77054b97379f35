import { mask } from '../control/secrets.js';
import type { Pipeline, PipelineSettings, Run } from '../control/types.js';

/*
 * What the API sends for pipelines and runs. Built field by field from the store's types (never by
 * spreading them), so a field added to Pipeline later does not reach clients unless listed here.
 */

export type PipelineStatus = 'running' | 'paused' | 'failing' | 'healthy' | 'new';

export interface RunSummary {
  readonly id: number;
  readonly trigger: Run['trigger'];
  readonly status: Run['status'];
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: string | null;
  readonly fullRefresh: boolean;
  readonly totals: Run['totals'];
  /** The process that ran it (`host#pid`: a worker, serve or the CLI); null if not recorded. */
  readonly worker: string | null;
}

export interface PipelineView extends PipelineSettings {
  readonly id: number;
  /** `••••abcd`: the token itself is never sent. */
  readonly token: string;
  readonly tokenLast4: string;
  /** The machine whose workers run it (its SQLite file lives there); null: any worker. */
  readonly host: string | null;
  readonly status: PipelineStatus;
  readonly lastRun: RunSummary | null;
  readonly nextRunAt: string | null;
  readonly lastFullRefreshAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function pipelineStatus(pipeline: Pipeline, lastRun: Run | null): PipelineStatus {
  if (lastRun?.status === 'running') return 'running';
  if (!pipeline.enabled) return 'paused';
  if (lastRun === null) return 'new';
  return lastRun.status === 'failed' ? 'failing' : 'healthy';
}

export function runSummary(run: Run): RunSummary {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
    fullRefresh: run.fullRefresh,
    totals: run.totals,
    worker: run.owner,
  };
}

export function presentPipeline(
  pipeline: Pipeline,
  lastRun: Run | null,
  nextRunAt: string | null,
): PipelineView {
  return {
    id: pipeline.id,
    name: pipeline.name,
    token: mask(pipeline.tokenLast4),
    tokenLast4: pipeline.tokenLast4,
    accountId: pipeline.accountId,
    destination: pipeline.destination,
    objects: pipeline.objects,
    frequencyHours: pipeline.frequencyHours,
    since: pipeline.since,
    fullRefreshHours: pipeline.fullRefreshHours,
    baseUrl: pipeline.baseUrl,
    enabled: pipeline.enabled,
    host: pipeline.host,
    status: pipelineStatus(pipeline, lastRun),
    lastRun: lastRun === null ? null : runSummary(lastRun),
    nextRunAt: pipeline.enabled ? nextRunAt : null,
    lastFullRefreshAt: pipeline.lastFullRefreshAt,
    createdAt: pipeline.createdAt,
    updatedAt: pipeline.updatedAt,
  };
}

/** A run with its per-object statistics (live while it runs). */
export function presentRun(run: Run, pipelineName: string | null) {
  return {
    ...runSummary(run),
    pipelineId: run.pipelineId,
    pipeline: pipelineName,
    objects: run.objects.map((o) => ({
      object: o.object,
      status: o.status,
      mode: o.mode,
      read: o.read,
      inserted: o.inserted,
      updated: o.updated,
      unchanged: o.unchanged,
      deleted: o.deleted,
      calls: o.calls,
      rateLimitWaits: o.rateLimitWaits,
      retries: o.retries,
      seconds: o.seconds,
      reason: o.reason,
    })),
  };
}
