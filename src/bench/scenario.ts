import { findObject, OBJECTS } from '../catalog/objects.js';
import type { ObjectSpec } from '../catalog/types.js';
import { runSyncJob } from '../cli/sync-job.js';
import { userMessage } from '../errors.js';
import { boundHeapGrowth } from '../heap.js';
import { runBound } from './bound.js';
import { BenchError } from './errors.js';
import { REPORT_PREFIX } from './protocol.js';
import type { OursScenario, ScenarioReport, ScenarioSpec } from './protocol.js';

/*
 * One measured scenario, alone in its process: argv[2] is a ScenarioSpec as JSON, the report is
 * one `BENCH-REPORT {…}` line on stdout. Its own process, so `maxRSS` is this scenario's peak.
 */

const maxRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);
const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

function objectsOf(names: readonly string[] | undefined): ObjectSpec[] {
  if (names === undefined) return [...OBJECTS];
  return names.map((name) => {
    const spec = findObject(name);
    if (!spec) throw new BenchError(`unknown object ${name}`);
    return spec;
  });
}

/** The product's path, as `harvest-sync run` takes it (runSyncJob), progress off. */
async function runOurs(spec: OursScenario): Promise<ScenarioReport> {
  const started = process.hrtime.bigint();
  const result = await runSyncJob({
    connection: {
      token: spec.sim.adminToken,
      accountId: spec.sim.accountId,
      baseUrl: spec.sim.url,
      rateLimit: spec.rateLimit,
    },
    destinationUrl: spec.destination,
    objects: objectsOf(spec.objects),
    ...(spec.perPage !== undefined ? { perPage: spec.perPage } : {}),
    ...(spec.fullRefresh ? { fullRefresh: true } : {}),
    ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
    ...(spec.since !== undefined ? { since: spec.since } : {}),
    progress: false,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const objects = result.objects.map((o) => ({
    object: o.object,
    status: o.status,
    mode: o.mode,
    records: o.read,
    calls: o.calls,
    seconds: o.seconds,
  }));
  return {
    ok: result.status === 'succeeded',
    ...(result.error !== undefined ? { error: result.error } : {}),
    records: objects.reduce((n, o) => n + o.records, 0),
    seconds,
    calls: objects.reduce((n, o) => n + o.calls, 0),
    maxRssMb: maxRssMb(),
    cpuSeconds: cpuSeconds(),
    objects,
  };
}

async function run(spec: ScenarioSpec): Promise<ScenarioReport> {
  if (spec.kind === 'ours') return runOurs(spec);
  const started = process.hrtime.bigint();
  const { records, calls, parts } = await runBound(spec);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { ok: true, records, seconds, calls, maxRssMb: maxRssMb(), cpuSeconds: cpuSeconds(), parts };
}

async function main(): Promise<void> {
  // the heap setting `harvest-sync` applies at start (src/heap.ts), for ours and the bound alike
  boundHeapGrowth();
  let report: ScenarioReport;
  try {
    report = await run(JSON.parse(process.argv[2] ?? '') as ScenarioSpec);
  } catch (error) {
    report = {
      ok: false,
      error: userMessage(error),
      records: 0,
      seconds: 0,
      calls: 0,
      maxRssMb: maxRssMb(),
      cpuSeconds: cpuSeconds(),
    };
  }
  process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(report)}\n`);
  // idle keep-alive sockets must not hold the next scenario back
  process.exit(0);
}

await main();
