/**
 * harvest-sync as a library: what a program needs to run a sync itself (README, "Use it as a
 * library"). The CLI, the daemon and the web UI are built on these same parts; the Harvest simulator
 * is here for tests, and also at `harvest-sync/simulator`.
 */

// the engine
export { runSync, DEFAULT_CONCURRENCY } from './sync/engine.js';
export type { ObjectResult, PassMode, SyncEvent, SyncOptions, SyncResult } from './sync/types.js';
export { SyncDataError } from './sync/errors.js';

// the catalog: the Harvest objects as data, and the tables they become
export { OBJECTS, OBJECT_NAMES, findObject } from './catalog/objects.js';
export { childTable, flattenFields, objectTable, objectTables } from './catalog/schema.js';
export { COLUMN_TYPES, META_COLUMNS } from './catalog/types.js';
// every type of the catalog: the object specs and the tables they become
export type * from './catalog/types.js';

// destinations
export {
  DEFAULT_DESTINATION_URL,
  PostgresDestination,
  SqliteDestination,
  openDestination,
  parseDestinationUrl,
  redactUrl,
} from './destinations/index.js';
export type { DestinationTarget } from './destinations/index.js';
export type {
  Batch,
  BatchResult,
  ChildRows,
  Destination,
  ObjectState,
  PassState,
  StreamState,
  TableInfo,
  WrittenQuery,
} from './destinations/destination.js';

// the Harvest client
export { DEFAULT_BASE_URL, DEFAULT_USER_AGENT, HarvestClient } from './harvest/client.js';
export type { HarvestClientOptions } from './harvest/client.js';
export type { HttpResponse, HttpTransport, ResponseHeaders } from './harvest/transport.js';
export { HarvestApiError, isPermissionError } from './harvest/errors.js';
export type { HarvestErrorCode } from './harvest/errors.js';
export { DEFAULT_RATE_LIMIT } from './harvest/rate-limiter.js';
export type { RateLimit } from './harvest/rate-limiter.js';
export type { RetryPolicy } from './harvest/retry.js';
// every type of the source seam: pages, queries, stats, events
export type * from './harvest/types.js';

// errors and time
export {
  CatalogError,
  ConfigError,
  DestinationBusyError,
  DestinationError,
  HarvestSyncError,
  InterruptedError,
  userMessage,
} from './errors.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';

// the Harvest API simulator, for tests
export {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ADMIN_TOKEN,
  DEFAULT_MEMBER_TOKEN,
  SimulatorError,
  startSimulator,
} from './simulator/index.js';
export type { Faults, Simulator, SimulatorOptions, SimulatorRateLimit } from './simulator/index.js';
