import { ConfigError } from '../errors.js';
import { DEFAULT_DESTINATION_URL } from '../limits.js';
import type { Destination } from './destination.js';
import type { DestinationScope, EngineAccess } from './engine.js';
import { mysqlAccess } from './mysql/mysql-access.js';
import { postgresAccess } from './postgres/postgres-access.js';
import { sqliteAccess } from './sqlite/sqlite-access.js';
import { placeDestination } from './targets.js';

/*
 * The whole of destinations, every engine's code loaded: the library's API (src/index.ts), the
 * server and the control store. A command that needs one engine only imports ./targets.ts, which
 * loads the engine a URL names (issue 16).
 */

export type { Destination } from './destination.js';
export type {
  DestinationEngine,
  DestinationScope,
  DestinationSnapshot,
  DestinationTarget,
  EngineAccess,
  StateSnapshot,
  TableSnapshot,
} from './engine.js';
export {
  DEFAULT_DESTINATION_URL,
  DESTINATION_USAGE,
  ENGINES,
  ENGINE_LABELS,
  introspectDestination,
  isFileDestination,
  loadDestination,
  parseDestinationUrl,
  placeDestination,
  redactUrl,
  resolveDestinationUrl,
  testDestination,
} from './targets.js';
export type { DestinationTestResult, ParseOptions } from './targets.js';
export { MysqlDestination } from './mysql/mysql-destination.js';
export { PostgresDestination } from './postgres/postgres-destination.js';
export { SqliteDestination } from './sqlite/sqlite-destination.js';
export { querySqliteFile } from './sqlite/sqlite-access.js';

/**
 * Every engine's access, imported with this module so that openDestination can answer at once (not
 * through each engine's load(): a top-level await would keep this module from being bundled or
 * required). An engine missing here fails its openDestination test.
 */
const ACCESS: ReadonlyMap<string, EngineAccess> = new Map([
  ['sqlite', sqliteAccess],
  ['postgres', postgresAccess],
  ['mysql', mysqlAccess],
]);

/** Makes the Destination a URL names; the caller opens it (which takes the run lock). Throws ConfigError. */
export function openDestination(
  url: string = DEFAULT_DESTINATION_URL,
  scope?: DestinationScope,
): Destination {
  const target = placeDestination(url, scope);
  const access = ACCESS.get(target.kind);
  if (!access) throw new ConfigError(`unknown destination engine "${target.kind}"`);
  return access.open(target);
}
