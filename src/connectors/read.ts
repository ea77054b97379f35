import type { JsonObject, ObjectSpec } from '../catalog/types.js';
import { ConfigError, HarvestSyncError } from '../errors.js';
import { HarvestClient } from '../harvest/client.js';
import type { HarvestPage, HarvestSource, SourceStats } from '../harvest/types.js';
import { runSync } from '../sync/engine.js';
import type { SyncEvent, SyncResult } from '../sync/types.js';
import type { ConnectorConfig } from './config.js';
import {
  MessageDestination,
  type LineSink,
  type MessageProtocol,
  type StreamPlan,
} from './message-destination.js';
import type { StateBook } from './state.js';

export interface ReadOptions {
  readonly config: ConnectorConfig;
  readonly streams: readonly StreamPlan[];
  readonly book: StateBook;
  readonly protocol: MessageProtocol;
  readonly sink: LineSink;
  /** Table versions and ACTIVATE_VERSION (Singer). */
  readonly versions: boolean;
  readonly onEvent?: (event: SyncEvent) => void;
  readonly signal?: AbortSignal;
  /** Runs once the token and account are known good, before any record (the tap's SCHEMA messages). */
  readonly onConnected?: () => Promise<void>;
}

/** What a read ended with, and the error each failed stream met (to classify it for the user). */
export interface ReadOutcome {
  readonly result: SyncResult;
  readonly errors: ReadonlyMap<string, unknown>;
}

/** The Harvest client a connector config describes (the same client `harvest-sync run` uses). */
export function connectorClient(config: ConnectorConfig): HarvestClient {
  return new HarvestClient({
    token: config.token,
    accountId: config.accountId,
    baseUrl: config.baseUrl,
    ...(config.userAgent !== undefined ? { userAgent: config.userAgent } : {}),
    ...(config.rateLimit !== undefined ? { rateLimit: config.rateLimit } : {}),
  });
}

/**
 * Reads the planned streams through the sync engine into `protocol` messages on `sink`. The token
 * and account are checked first (GET /v2/users/me), so a wrong one fails before any message, with
 * Harvest's reason. Throws only for that check; the engine's own failures are in the outcome.
 */
export async function readStreams(options: ReadOptions): Promise<ReadOutcome> {
  const { config, streams } = options;
  const client = connectorClient(config);
  await client.me(options.signal);
  await options.onConnected?.();
  const source = new ErrorRecordingSource(client);
  const destination = new MessageDestination({
    streams,
    book: options.book,
    protocol: options.protocol,
    sink: options.sink,
    versions: options.versions,
  });
  await destination.open();
  try {
    const result = await runSync({
      source,
      destination,
      objects: streams.map((s) => s.spec),
      ...(config.since !== undefined ? { since: config.since } : {}),
      ...(config.perPage !== undefined ? { perPage: config.perPage } : {}),
      ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    return { result, errors: source.errors };
  } finally {
    await destination.close();
  }
}

/** Who is to blame for an error, in Airbyte's terms (Singer logs the same message either way). */
export function failureType(error: unknown): 'config_error' | 'transient_error' | 'system_error' {
  if (error instanceof ConfigError) return 'config_error';
  if (!(error instanceof HarvestSyncError)) return 'system_error';
  if (['HARVEST_UNAUTHORIZED', 'HARVEST_FORBIDDEN', 'HARVEST_TLS'].includes(error.code))
    return 'config_error';
  return error.retryable || ['HARVEST_UNAVAILABLE', 'HARVEST_RATE_LIMITED'].includes(error.code)
    ? 'transient_error'
    : 'system_error';
}

/** The client, noting the last error each object's reads ended with (the engine keeps only its text). */
class ErrorRecordingSource implements HarvestSource {
  readonly errors = new Map<string, unknown>();

  constructor(private readonly inner: HarvestSource) {}

  firstPageUrl(object: ObjectSpec, query: Parameters<HarvestSource['firstPageUrl']>[1]): string {
    return this.inner.firstPageUrl(object, query);
  }

  async fetchPage(object: ObjectSpec, url: string, signal?: AbortSignal): Promise<HarvestPage> {
    try {
      return await this.inner.fetchPage(object, url, signal);
    } catch (error) {
      this.errors.set(object.name, error);
      throw error;
    }
  }

  async fetchRecord(object: ObjectSpec, id: number, signal?: AbortSignal): Promise<JsonObject | null> {
    try {
      return await this.inner.fetchRecord(object, id, signal);
    } catch (error) {
      this.errors.set(object.name, error);
      throw error;
    }
  }

  stats(object: string): SourceStats {
    return this.inner.stats(object);
  }
}
