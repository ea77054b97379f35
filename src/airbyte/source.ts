import { parseConfig, readJsonFile, type ConnectorConfig } from '../connectors/config.js';
import { StreamSink, stopOnSignals } from '../connectors/output.js';
import { failureType, readStreams, type ReadOutcome } from '../connectors/read.js';
import { StateBook } from '../connectors/state.js';
import { testConnection } from '../control/connection-test.js';
import { ConfigError, userMessage } from '../errors.js';
import type { SyncEvent } from '../sync/types.js';
import { airbyteBookmarks, airbyteCatalog, configuredStreams, connectorSpecification } from './catalog.js';
import {
  airbyteProtocol,
  connectionStatus,
  errorTrace,
  line,
  logMessage,
  streamStatusTrace,
} from './messages.js';

/*
 * The Airbyte source's four operations (Airbyte protocol: spec, check, discover, read). Every
 * message goes to stdout; a failure ends with a TRACE ERROR message (a user-facing message and
 * its failure_type) and exit code 1, never a stack trace.
 */

export interface AirbyteArgs {
  readonly config?: string;
  readonly catalog?: string;
  readonly state?: string;
}

function print(text: string): void {
  process.stdout.write(text + '\n');
}

/** Runs an operation; any error becomes a TRACE ERROR message and exit code 1. */
async function guard(operation: () => Promise<number>): Promise<number> {
  try {
    return await operation();
  } catch (error) {
    print(errorTrace(userMessage(error), failureType(error), { internal: errorCode(error) }));
    return 1;
  }
}

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : 'ERROR';
}

function loadConfig(args: AirbyteArgs): ConnectorConfig {
  if (args.config === undefined) throw new ConfigError('--config is required: the source configuration file');
  return parseConfig(readJsonFile(args.config, 'config'));
}

export function airbyteSpec(): Promise<number> {
  return guard(async () => {
    print(line({ type: 'SPEC', spec: connectorSpecification() }));
    return 0;
  });
}

/** CONNECTION_STATUS FAILED (exit 0, as the protocol has it) for a config or token Harvest refuses. */
export function airbyteCheck(args: AirbyteArgs): Promise<number> {
  return guard(async () => {
    // a file that cannot be read is a failed command (TRACE); a config Harvest cannot use, a failed check
    if (args.config === undefined)
      throw new ConfigError('--config is required: the source configuration file');
    const raw = readJsonFile(args.config, 'config');
    let config: ConnectorConfig;
    try {
      config = parseConfig(raw);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      print(connectionStatus(false, userMessage(error)));
      return 0;
    }
    const result = await testConnection({
      token: config.token,
      accountId: config.accountId,
      baseUrl: config.baseUrl,
    });
    print(connectionStatus(result.ok, result.message));
    return 0;
  });
}

export function airbyteDiscover(args: AirbyteArgs): Promise<number> {
  return guard(async () => {
    loadConfig(args);
    print(line({ type: 'CATALOG', catalog: airbyteCatalog() }));
    return 0;
  });
}

export function airbyteRead(args: AirbyteArgs): Promise<number> {
  return guard(async () => {
    const config = loadConfig(args);
    if (args.catalog === undefined)
      throw new ConfigError('--catalog is required: the configured catalog file');
    const streams = configuredStreams(readJsonFile(args.catalog, 'configured catalog'));
    const bookmarks = args.state === undefined ? {} : airbyteBookmarks(readJsonFile(args.state, 'state'));
    const book = new StateBook(
      bookmarks,
      streams.map((s) => s.spec.name),
    );
    const sink = new StreamSink();
    const emit = (text: string) => void sink.write(text + '\n').catch(() => undefined);
    const lifetime = stopOnSignals(() => emit(logMessage('INFO', 'stopping after the current batch')));
    try {
      const outcome = await readStreams({
        config,
        streams,
        book,
        protocol: airbyteProtocol,
        sink,
        versions: false,
        onEvent: (event) => onEvent(event, emit),
        signal: lifetime.signal,
      });
      await sink.flush();
      return finish(outcome);
    } finally {
      lifetime.dispose();
    }
  });
}

function onEvent(event: SyncEvent, emit: (text: string) => void): void {
  if (event.type === 'object:start') {
    emit(streamStatusTrace(event.object, 'STARTED'));
    emit(
      logMessage('INFO', `${event.object}: ${event.resumed ? 'resuming' : 'starting'} a ${event.mode} pass`),
    );
  } else if (event.type === 'object:done') {
    const r = event.result;
    if (r.status === 'skipped')
      emit(logMessage('WARN', `${r.object}: skipped: ${r.reason ?? 'not readable'}`));
    if (r.status === 'succeeded')
      emit(logMessage('INFO', `${r.object}: ${r.read} records in ${r.pages} pages`));
    if (r.notice) emit(logMessage('WARN', r.notice));
    const done = r.status === 'succeeded' || r.status === 'skipped';
    emit(streamStatusTrace(r.object, done ? 'COMPLETE' : 'INCOMPLETE'));
  }
}

/** One TRACE ERROR per failed stream (its own failure_type), exit 1 when any stream did not finish. */
function finish({ result, errors }: ReadOutcome): number {
  if (result.status === 'succeeded') return 0;
  const failed = result.objects.filter((o) => o.status === 'failed');
  for (const object of failed) {
    const cause = errors.get(object.object);
    print(
      errorTrace(
        object.reason ?? 'the stream failed',
        cause === undefined ? 'system_error' : failureType(cause),
        {
          internal: cause === undefined ? 'SYNC_FAILED' : errorCode(cause),
          stream: object.object,
        },
      ),
    );
  }
  if (failed.length === 0) {
    const message =
      result.status === 'interrupted'
        ? 'interrupted: the next read resumes from the last STATE'
        : (result.error ?? 'the read failed');
    print(errorTrace(message, result.status === 'interrupted' ? 'transient_error' : 'system_error'));
  }
  return 1;
}
