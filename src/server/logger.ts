import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino blanks before a line is written. Our own code never logs secrets; this is the net for a
 * request, header or config object logged whole.
 */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'apiToken',
  'csrfToken',
  '*.authorization',
  '*.Authorization',
  '*.cookie',
  '*.Cookie',
  '*["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.apiToken',
  '*.csrfToken',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-csrf-token"]',
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const config = {
    name: 'harvest-sync',
    level: options.level ?? process.env.HARVEST_SYNC_LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
