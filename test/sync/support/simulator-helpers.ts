import type { JsonObject } from '../../../src/catalog/types.js';
import { HarvestClient } from '../../../src/harvest/client.js';
import type { Simulator } from '../../../src/simulator/index.js';

/** A client of a local simulator with a limiter loose enough never to hold a test back. */
export function simulatorClient(sim: Simulator, token = sim.adminToken): HarvestClient {
  return new HarvestClient({
    token,
    accountId: sim.accountId,
    baseUrl: sim.url,
    userAgent: 'harvest-sync tests (dev@example.com)',
    rateLimit: { requests: 100_000, windowMs: 1_000 },
  });
}

/** An object's current records as the simulator serves them to an admin. */
export function simRecords(sim: Simulator, object: string): JsonObject[] {
  return [...sim.records(object)];
}
