import { DEFAULT_OBJECTS } from '../catalog/objects.js';
import { parseConfig, readJsonFile, type ConnectorConfig } from '../connectors/config.js';
import { recordSchema, withoutFields } from '../connectors/json-schema.js';
import type { StreamPlan } from '../connectors/message-destination.js';
import { StreamSink, stopOnSignals } from '../connectors/output.js';
import { readStreams } from '../connectors/read.js';
import { StateBook } from '../connectors/state.js';
import { ConfigError, userMessage } from '../errors.js';
import type { SyncEvent, SyncResult } from '../sync/types.js';
import { discoverCatalog, selectedStreams } from './catalog.js';
import { log, schemaMessage, singerProtocol } from './messages.js';

/** The command line of a Singer tap (Singer spec, docs/SPEC.md "Synopsis"). */
export interface TapArgs {
  readonly config?: string;
  readonly discover?: boolean;
  readonly catalog?: string;
  /** The legacy name of --catalog. */
  readonly properties?: string;
  readonly state?: string;
}

/** Exit codes: 0 done, 1 the read failed or was stopped, 2 bad configuration, catalog or state. */
export async function runTap(args: TapArgs): Promise<number> {
  try {
    if (args.config === undefined) {
      throw new ConfigError('--config is required: a JSON file with access_token and account_id');
    }
    const config = parseConfig(readJsonFile(args.config, 'config'));
    if (args.discover) {
      process.stdout.write(JSON.stringify(discoverCatalog(), null, 2) + '\n');
      return 0;
    }
    if (args.catalog !== undefined && args.properties !== undefined) {
      throw new ConfigError('give --catalog or --properties (its legacy name), not both');
    }
    const catalogPath = args.catalog ?? args.properties;
    const streams =
      catalogPath !== undefined
        ? selectedStreams(readJsonFile(catalogPath, 'catalog'))
        : DEFAULT_OBJECTS.map((spec) => ({
            spec,
            fullTable: !spec.incremental,
            excluded: new Set<string>(),
          }));
    const bookmarks = args.state === undefined ? {} : stateBookmarks(readJsonFile(args.state, 'state'));
    const book = new StateBook(
      bookmarks,
      streams.map((s) => s.spec.name),
    );
    if (streams.length === 0) {
      log('WARNING', 'no stream is selected in the catalog: nothing to read');
      return 0;
    }
    return await sync(config, streams, book);
  } catch (error) {
    log('CRITICAL', userMessage(error));
    return error instanceof ConfigError ? 2 : 1;
  }
}

async function sync(
  config: ConnectorConfig,
  streams: readonly StreamPlan[],
  book: StateBook,
): Promise<number> {
  const sink = new StreamSink();
  const plans = new Map(streams.map((s) => [s.spec.name, s]));
  const lifetime = stopOnSignals(() =>
    log('INFO', 'stopping after the current batch; run again with the last STATE to resume'),
  );
  try {
    const schemas = streams.map((s) =>
      schemaMessage(s.spec, withoutFields(recordSchema(s.spec), s.excluded), s.fullTable),
    );
    const { result } = await readStreams({
      config,
      streams,
      book,
      protocol: singerProtocol((name) => plans.get(name) as StreamPlan),
      sink,
      versions: true,
      onEvent: logEvent,
      signal: lifetime.signal,
      onConnected: () => sink.write(schemas.join('\n') + '\n'),
    });
    await sink.flush();
    return finish(result);
  } finally {
    lifetime.dispose();
  }
}

function finish(result: SyncResult): number {
  if (result.status === 'failed') {
    log('CRITICAL', result.error ?? 'the read failed');
    return 1;
  }
  if (result.status === 'interrupted') {
    log('CRITICAL', 'interrupted: run again with the last STATE to resume where it stopped');
    return 1;
  }
  const records = result.objects.reduce((n, o) => n + o.read, 0);
  log('INFO', `done: ${records} records from ${result.objects.length} streams`);
  return 0;
}

function logEvent(event: SyncEvent): void {
  if (event.type === 'object:start') {
    log('INFO', `${event.object}: ${event.resumed ? 'resuming' : 'starting'} a ${event.mode} pass`);
  } else if (event.type === 'schema:column-added') {
    log(
      'INFO',
      `${event.table}: Harvest sends a new field, ${event.column} (${event.columnType}): SCHEMA updated`,
    );
  } else if (event.type === 'object:done') {
    const r = event.result;
    if (r.status === 'skipped') log('WARNING', `${r.object}: skipped: ${r.reason ?? 'not readable'}`);
    else if (r.status === 'succeeded') {
      log('INFO', `${r.object}: ${r.read} records in ${r.pages} pages, ${r.calls} calls, ${r.seconds} s`);
      if (r.notice) log('WARNING', r.notice);
    }
  }
}

/**
 * The bookmarks of a --state file: the value of the last STATE message (`{"bookmarks": …}`), as
 * Meltano and singer-python store it; a whole STATE message is accepted too.
 */
export function stateBookmarks(value: unknown): Record<string, unknown> {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  let state = value;
  if (isObject(state) && state.type === 'STATE' && 'value' in state) state = state.value;
  if (!isObject(state)) throw new ConfigError('state: expected a JSON object such as {"bookmarks": {…}}');
  const bookmarks = state.bookmarks ?? {};
  if (!isObject(bookmarks)) throw new ConfigError('state: "bookmarks" must be an object of streams');
  return bookmarks;
}
