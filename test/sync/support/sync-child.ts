/**
 * A sync run in a process of its own, for the kill -9 test: replicates every object of a simulator
 * into a SQLite file and prints one JSON line per page written, then one when the run is done.
 * Usage: node --import tsx sync-child.ts <simulator url> <token> <account id> <database> <per page>
 */
import { DEFAULT_OBJECTS } from '../../../src/catalog/objects.js';
import { SqliteDestination } from '../../../src/destinations/sqlite/sqlite-destination.js';
import { HarvestClient } from '../../../src/harvest/client.js';
import { runSync } from '../../../src/sync/engine.js';

const [baseUrl, token, accountId, database, perPage] = process.argv.slice(2);
const destination = new SqliteDestination(database);
await destination.open();
const result = await runSync({
  source: new HarvestClient({
    token,
    accountId,
    baseUrl,
    userAgent: 'harvest-sync tests (dev@example.com)',
    rateLimit: { requests: 100_000, windowMs: 1_000 },
  }),
  destination,
  objects: DEFAULT_OBJECTS,
  perPage: Number(perPage),
  onEvent: (event) => {
    if (event.type === 'object:page') {
      process.stdout.write(`${JSON.stringify({ page: event.object, pages: event.pages })}\n`);
    }
  },
});
await destination.close();
process.stdout.write(`${JSON.stringify({ done: result.status })}\n`);
