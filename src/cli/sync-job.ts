import type { ObjectSpec } from '../catalog/types.js';
import { loadDestination } from '../destinations/targets.js';
import { HarvestClient } from '../harvest/client.js';
import { runSync } from '../sync/engine.js';
import type { SyncResult } from '../sync/types.js';
import type { HarvestConnection } from './harvest-options.js';
import { ProgressView } from './progress.js';

export interface SyncJob {
  readonly connection: HarvestConnection;
  readonly destinationUrl: string;
  readonly objects: readonly ObjectSpec[];
  readonly fullRefresh?: boolean;
  readonly since?: string;
  readonly perPage?: number;
  readonly concurrency?: number;
  /** Show progress on stderr (live on a terminal, log lines otherwise). */
  readonly progress: boolean;
}

/**
 * Runs one sync from the command line: opens the destination (taking its run lock), syncs, closes.
 * SIGINT/SIGTERM stop the run after the batch being written commits; a second signal exits at once.
 */
export async function runSyncJob(job: SyncJob): Promise<SyncResult> {
  // only the engine the URL names is loaded (a run into SQLite loads no server engine's code)
  const destination = await loadDestination(job.destinationUrl);
  const view = job.progress ? new ProgressView() : undefined;
  const client = new HarvestClient({
    token: job.connection.token,
    accountId: job.connection.accountId,
    baseUrl: job.connection.baseUrl,
    ...(job.connection.rateLimit ? { rateLimit: job.connection.rateLimit } : {}),
    onEvent: (event) => {
      if (event.type === 'rate-limit') view?.rateLimitWait(event.object, event.waitMs);
    },
  });
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('stopping after the current batch commits (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await destination.open();
  try {
    return await runSync({
      source: client,
      destination,
      objects: job.objects,
      fullRefresh: job.fullRefresh,
      since: job.since,
      perPage: job.perPage,
      concurrency: job.concurrency,
      signal: controller.signal,
      onEvent: view?.onSyncEvent,
    });
  } finally {
    view?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await destination.close();
  }
}
