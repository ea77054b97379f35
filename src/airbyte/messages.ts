import type { JsonObject } from '../catalog/types.js';
import type { MessageProtocol } from '../connectors/message-destination.js';
import type { StateBook } from '../connectors/state.js';

/*
 * Airbyte protocol messages (airbyte-protocol, protocol-models/.../airbyte_protocol.yaml, v0.5 /
 * 1.0: AirbyteMessage and its RECORD, STATE, LOG, TRACE, SPEC, CONNECTION_STATUS and CATALOG
 * members): one JSON object a line on stdout. STATE is per stream (AirbyteStateType STREAM).
 */

export type LogLevel = 'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';
export type FailureType = 'config_error' | 'transient_error' | 'system_error';
export type StreamStatus = 'STARTED' | 'RUNNING' | 'COMPLETE' | 'INCOMPLETE';

export function line(message: JsonObject): string {
  return JSON.stringify(message);
}

export function logMessage(level: LogLevel, message: string): string {
  return line({ type: 'LOG', log: { level, message: message.split('\n')[0] } });
}

/** An AirbyteTraceMessage of type ERROR: `message` is the one the user sees. */
export function errorTrace(
  message: string,
  failureType: FailureType,
  details: { readonly internal?: string; readonly stream?: string } = {},
): string {
  return line({
    type: 'TRACE',
    trace: {
      type: 'ERROR',
      emitted_at: Date.now(),
      error: {
        message: message.split('\n')[0],
        failure_type: failureType,
        ...(details.internal !== undefined ? { internal_message: details.internal } : {}),
        ...(details.stream !== undefined ? { stream_descriptor: { name: details.stream } } : {}),
      },
    },
  });
}

export function streamStatusTrace(stream: string, status: StreamStatus): string {
  return line({
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: Date.now(),
      stream_status: { stream_descriptor: { name: stream }, status },
    },
  });
}

export function connectionStatus(succeeded: boolean, message: string): string {
  return line({
    type: 'CONNECTION_STATUS',
    connectionStatus: { status: succeeded ? 'SUCCEEDED' : 'FAILED', message: message.split('\n')[0] },
  });
}

/** Airbyte messages for the engine's batches: RECORD lines, then the stream's STATE. */
export const airbyteProtocol: MessageProtocol = {
  // The configured catalog is fixed for a read: a new field simply travels in `data`.
  schemaChanged: () => [],
  record: (stream: string, data: JsonObject, emittedAt: number) =>
    line({ type: 'RECORD', record: { stream, data, emitted_at: emittedAt } }),
  // Deletions travel through the sync modes (full_refresh | overwrite), not messages.
  activateVersion: () => [],
  state: (stream: string, book: StateBook, count: number) =>
    line({
      type: 'STATE',
      state: {
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: stream },
          stream_state: (book.get(stream) ?? {}) as unknown as JsonObject,
        },
        sourceStats: { recordCount: count },
      },
    }),
};
