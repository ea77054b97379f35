import { systemClock } from '../clock.js';
import { SimulatorError } from './errors.js';
import { SimulatorServer } from './server.js';
import type { Simulator, SimulatorOptions, SimulatorRateLimit, Vintage } from './types.js';

export type {
  Counters,
  Faults,
  ManagerPermission,
  RateLimitVariant,
  Simulator,
  SimulatorOptions,
  SimulatorRateLimit,
  SimulatorRequest,
  Vintage,
} from './types.js';
export { SimulatorError } from './errors.js';
export { countsFor } from './generate.js';
export { startSimulatorAccounts } from './accounts.js';
export type { SimulatorAccountOptions, SimulatorAccounts } from './accounts.js';

/** Tokens and account id a simulator accepts unless told otherwise; `simulate` prints them. */
export const DEFAULT_ADMIN_TOKEN = 'sim-admin-token';
export const DEFAULT_MEMBER_TOKEN = 'sim-member-token';
export const DEFAULT_MANAGER_TOKEN = 'sim-manager-token';
const VINTAGES: readonly Vintage[] = ['current', '2024', '2019'];
export const DEFAULT_ACCOUNT_ID = '1000001';
export const DEFAULT_SIMULATOR_RATE_LIMIT: SimulatorRateLimit = { requests: 100, windowMs: 15_000 };
/** Harvest's Reports API budget: 100 requests per 15 minutes, apart from the main one. */
export const DEFAULT_REPORTS_RATE_LIMIT: SimulatorRateLimit = { requests: 100, windowMs: 15 * 60_000 };
/** Fixed, so that one seed gives the same bytes whenever it runs. */
export const DEFAULT_EPOCH = '2026-01-01T00:00:00Z';

/**
 * Starts a Harvest API v2 simulator on `host:port` (port 0: any free port) and resolves once it
 * listens. Call `stop()` to close it.
 *
 * @example
 *   const sim = await startSimulator({ scale: 0.02 });
 *   await fetch(`${sim.url}/v2/clients`, { headers: { Authorization: `Bearer ${sim.adminToken}`,
 *     'Harvest-Account-Id': sim.accountId, 'User-Agent': 'test (dev@example.com)' } });
 *   await sim.stop();
 */
export function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  return launchSimulator(options);
}

/** startSimulator, typed as the server itself (for the multi-account front, accounts.ts). */
export async function launchSimulator(options: SimulatorOptions = {}): Promise<SimulatorServer> {
  const scale = options.scale ?? 1;
  const seed = options.seed ?? 1;
  const epochMs = Date.parse(options.epoch ?? DEFAULT_EPOCH);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new SimulatorError('scale must be a positive number');
  if (!Number.isInteger(seed)) throw new SimulatorError('seed must be an integer');
  if (Number.isNaN(epochMs)) throw new SimulatorError('epoch must be an ISO 8601 date-time');
  const vintage = options.vintage ?? 'current';
  if (!VINTAGES.includes(vintage)) throw new SimulatorError(`vintage must be one of ${VINTAGES.join(', ')}`);
  const tokens = {
    adminToken: options.adminToken ?? DEFAULT_ADMIN_TOKEN,
    memberToken: options.memberToken ?? DEFAULT_MEMBER_TOKEN,
    managerToken: options.managerToken ?? DEFAULT_MANAGER_TOKEN,
  };
  if (new Set(Object.values(tokens)).size !== 3) throw new SimulatorError('the three tokens must differ');
  const rateLimit = options.rateLimit === undefined ? DEFAULT_SIMULATOR_RATE_LIMIT : options.rateLimit;
  const server = new SimulatorServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    seed,
    scale,
    ...tokens,
    managerPermissions: options.managerPermissions ?? [],
    accountId: options.accountId ?? DEFAULT_ACCOUNT_ID,
    rateLimit: null,
    faults: options.faults ?? null,
    clock: options.clock ?? systemClock,
    epochMs,
    vintage,
    renameTouchesEmbedding: options.renameTouchesEmbedding ?? false,
    timersGrow: options.cachePages === true ? false : (options.timersGrow ?? true),
    cachePages: options.cachePages ?? false,
  });
  server.setRateLimit(rateLimit);
  // reports have their own budget; off when the main one is (tests that need no limit)
  const reports =
    options.reportsRateLimit === undefined ? DEFAULT_REPORTS_RATE_LIMIT : options.reportsRateLimit;
  server.setReportsRateLimit(rateLimit === null && options.reportsRateLimit === undefined ? null : reports);
  await server.listen();
  return server;
}
