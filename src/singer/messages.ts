import type { JsonObject, ObjectSpec } from '../catalog/types.js';
import type { JsonSchema } from '../connectors/json-schema.js';
import type { MessageProtocol } from '../connectors/message-destination.js';
import type { StateBook } from '../connectors/state.js';

/*
 * Singer messages (Singer spec, docs/SPEC.md "Output"): one JSON object a line on stdout. RECORD
 * carries `time_extracted` (RFC 3339) and, for streams with table versions, `version`;
 * ACTIVATE_VERSION (singer-python's messages.py) tells the target a full pass is complete.
 * The STATE value is `{"bookmarks": {<stream>: <position>}}`, the whole state each time.
 */

export function schemaMessage(spec: ObjectSpec, schema: JsonSchema, fullTable: boolean): string {
  return JSON.stringify({
    type: 'SCHEMA',
    stream: spec.name,
    schema,
    key_properties: [spec.primaryKey],
    ...(fullTable ? {} : { bookmark_properties: [spec.cursorField] }),
  });
}

/** Singer messages for the engine's batches; SCHEMA again when a stream's schema grows. */
export function singerProtocol(
  specOf: (stream: string) => { spec: ObjectSpec; fullTable: boolean },
): MessageProtocol {
  return {
    schemaChanged: (stream, schema) => {
      const { spec, fullTable } = specOf(stream);
      return [schemaMessage(spec, schema, fullTable)];
    },
    record: (stream: string, data: JsonObject, emittedAt: number, version: number | undefined) =>
      JSON.stringify({
        type: 'RECORD',
        stream,
        record: data,
        time_extracted: new Date(emittedAt).toISOString(),
        ...(version !== undefined ? { version } : {}),
      }),
    activateVersion: (stream, version) => [JSON.stringify({ type: 'ACTIVATE_VERSION', stream, version })],
    state: (_stream: string, book: StateBook) => stateMessage(book),
  };
}

export function stateMessage(book: StateBook): string {
  return JSON.stringify({ type: 'STATE', value: { bookmarks: book.all() } });
}

/** Log lines on stderr, as singer-python's logger writes them: `LEVEL message`. */
export type LogLevel = 'INFO' | 'WARNING' | 'CRITICAL';

export function log(level: LogLevel, message: string): void {
  process.stderr.write(`${level} ${message.split('\n')[0]}\n`);
}
