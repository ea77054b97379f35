/**
 * A sync run that kills itself with SIGKILL at a chosen point, for the crash sweeps.
 * Usage: node --import tsx crash-child.ts '<CrashChildSpec as JSON>'
 *
 * Prints one JSON line before each batch is written ({"writing":object,"page":n}) and one after it
 * committed ({"committed":object,"page":n}), so the parent knows where it died:
 * - `after-commit`: dies in the engine's page event right after the Nth batch committed;
 * - `mid-write`: a worker thread sends SIGKILL `delayUs` µs after the Nth batch started writing —
 *   a thread of its own, because a SQLite batch is one synchronous call the main thread cannot leave.
 */
import { Worker } from 'node:worker_threads';
import { DEFAULT_OBJECTS, findObject } from '../../../src/catalog/objects.js';
import type { ObjectSpec } from '../../../src/catalog/types.js';
import type { Batch, BatchResult, Destination } from '../../../src/destinations/destination.js';
import { openDestination } from '../../../src/destinations/index.js';
import { HarvestClient } from '../../../src/harvest/client.js';
import { runSync } from '../../../src/sync/engine.js';

export interface CrashChildSpec {
  readonly baseUrl: string;
  readonly token: string;
  readonly accountId: string;
  readonly destination: string;
  readonly perPage: number;
  readonly concurrency: number;
  readonly fullRefresh: boolean;
  /** 1-based index of the batch (all objects counted together) at which to die. */
  readonly killAfter: number;
  readonly phase: 'after-commit' | 'mid-write';
  readonly delayUs: number;
  /** The objects to sync, by name; default: the default set. */
  readonly objects?: readonly string[];
}

const spec = JSON.parse(process.argv[2]) as CrashChildSpec;
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const trigger = new Int32Array(new SharedArrayBuffer(8));
const killer = new Worker(
  `const { workerData: t } = require('node:worker_threads');
   Atomics.wait(t, 0, 0);
   const end = process.hrtime.bigint() + BigInt(Atomics.load(t, 1)) * 1000n;
   while (process.hrtime.bigint() < end);
   process.kill(process.pid, 'SIGKILL');`,
  { eval: true, workerData: trigger },
);
await new Promise((resolve) => killer.once('online', resolve));
killer.unref();

const real = openDestination(spec.destination);
const pages = new Map<string, number>();
let writes = 0;
let armed = false;
const destination: Destination = {
  kind: real.kind,
  description: real.description,
  encoders: real.encoders,
  open: () => real.open(),
  ensureTable: (table) => real.ensureTable(table),
  addColumns: (table, columns) => real.addColumns(table, columns),
  readState: (object) => real.readState(object),
  now: () => real.now(),
  tableInfo: (table) => real.tableInfo(table),
  countWritten: (table, query) => real.countWritten(table, query),
  unwrittenIds: (table, since, limit) => real.unwrittenIds(table, since, limit),
  close: () => real.close(),
  writeBatch(batch: Batch): Promise<BatchResult> {
    const page = (pages.get(batch.table) ?? 0) + 1;
    pages.set(batch.table, page);
    say({ writing: batch.table, page });
    if (spec.phase === 'mid-write' && ++writes === spec.killAfter) {
      armed = true;
      Atomics.store(trigger, 1, spec.delayUs);
      Atomics.store(trigger, 0, 1);
      Atomics.notify(trigger, 0);
    }
    return real.writeBatch(batch);
  },
};

await destination.open();
let committed = 0;
const result = await runSync({
  source: new HarvestClient({
    token: spec.token,
    accountId: spec.accountId,
    baseUrl: spec.baseUrl,
    userAgent: 'harvest-sync reliability tests (dev@example.com)',
    rateLimit: { requests: 100_000, windowMs: 1_000 },
  }),
  destination,
  objects: spec.objects ? spec.objects.map((name) => findObject(name) as ObjectSpec) : DEFAULT_OBJECTS,
  perPage: spec.perPage,
  concurrency: spec.concurrency,
  fullRefresh: spec.fullRefresh,
  onEvent: (event) => {
    if (event.type !== 'object:page') return;
    say({ committed: event.object, page: event.pages });
    if (spec.phase === 'after-commit' && ++committed === spec.killAfter) process.kill(process.pid, 'SIGKILL');
  },
});
await destination.close();
// A kill armed on the last batch may not have fired yet: wait for it rather than end normally.
if (armed) setInterval(() => undefined, 1000);
else say({ done: result.status });
