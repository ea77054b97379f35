import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findObject } from '../catalog/objects.js';
import { userMessage } from '../errors.js';
import { HarvestClient } from '../harvest/client.js';
import { startSimulatorProcess } from './children.js';
import { BenchError } from './errors.js';
import type { SimulatorAddress } from './protocol.js';

/*
 * The client's two transports side by side (issue 16): Node's fetch (undici) and node:http. Not a
 * test: it measures once and prints. Each figure comes from a fresh process per run:
 * - first request: wall and CPU of the first `users/me` call of a new HarvestClient (loading the
 *   HTTP stack included), and the process's CPU from its start to after that call;
 * - pages: every 2000-record time-entry page through HarvestClient.fetchPage (fetch + JSON.parse
 *   and the client's checks), from a simulator in its own process serving cached pages, after one
 *   unmeasured page; CPU seconds per million records.
 *
 *   node dist/bench/transport.js [--scale 5] [--runs 5]
 */

type Kind = 'fetch' | 'node';
const KINDS: readonly Kind[] = ['fetch', 'node'];
const SELF = fileURLToPath(import.meta.url);

interface FirstFigures {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly processCpuMs: number;
}

interface PageFigures {
  readonly records: number;
  readonly wallS: number;
  readonly cpuS: number;
}

function client(kind: Kind, sim: SimulatorAddress): HarvestClient {
  return new HarvestClient({
    token: sim.adminToken,
    accountId: sim.accountId,
    baseUrl: sim.url,
    rateLimit: { requests: 1_000_000, windowMs: 1_000 },
    ...(kind === 'fetch' ? { fetch } : {}),
  });
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

async function first(kind: Kind, sim: SimulatorAddress): Promise<FirstFigures> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await client(kind, sim).me();
  return {
    wallMs: performance.now() - started,
    cpuMs: cpuMs(process.cpuUsage(cpu)),
    processCpuMs: cpuMs(process.cpuUsage()),
  };
}

async function pages(kind: Kind, sim: SimulatorAddress): Promise<PageFigures> {
  const object = findObject('time_entries');
  if (!object) throw new BenchError('no time_entries in the catalog');
  const harvest = client(kind, sim);
  const firstUrl = harvest.firstPageUrl(object, { perPage: 2000 });
  // one unmeasured page: the stack is loaded and the connection open before the clock starts
  await harvest.fetchPage(object, firstUrl);
  let url: string | null = firstUrl;
  let records = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  while (url !== null) {
    const page = await harvest.fetchPage(object, url);
    records += page.records.length;
    url = page.nextUrl;
  }
  return { records, wallS: (performance.now() - started) / 1000, cpuS: cpuMs(process.cpuUsage(cpu)) / 1000 };
}

/** Runs this script as a child (`--child first|pages --kind K`) and returns its JSON line. */
function child<T>(mode: string, kind: Kind, sim: SimulatorAddress): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [SELF, '--child', mode, '--kind', kind, '--sim', JSON.stringify(sim)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as T) : reject(new BenchError(`${mode} ${kind}: exit ${code}`)),
    );
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function parent(scale: number, runs: number): Promise<void> {
  const sim = await startSimulatorProcess(scale, 1, true);
  try {
    const load = () => loadavg()[0].toFixed(2);
    process.stdout.write(`load average at start ${load()}; ${runs} fresh processes per figure, median\n`);
    const firsts: Record<Kind, FirstFigures[]> = { fetch: [], node: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of KINDS) firsts[kind].push(await child<FirstFigures>('first', kind, sim.address));
    }
    process.stdout.write('first request    wall ms   CPU ms   process CPU ms (start to after it)\n');
    for (const kind of KINDS) {
      const f = firsts[kind];
      const cells = [f.map((x) => x.wallMs), f.map((x) => x.cpuMs), f.map((x) => x.processCpuMs)];
      process.stdout.write(
        `${kind.padEnd(15)}${cells.map((c) => median(c).toFixed(0).padStart(9)).join('')}\n`,
      );
    }
    // every page read once, unmeasured, so the simulator serves them from its cache
    await child<PageFigures>('pages', 'node', sim.address);
    const runsOf: Record<Kind, PageFigures[]> = { fetch: [], node: [] };
    for (let i = 0; i < runs; i++) {
      for (const kind of KINDS) runsOf[kind].push(await child<PageFigures>('pages', kind, sim.address));
    }
    process.stdout.write('time-entry pages (2000 each)   records   wall s   CPU s   CPU s per million\n');
    for (const kind of KINDS) {
      const r = runsOf[kind];
      const perMillion = median(r.map((x) => (x.cpuS / x.records) * 1e6));
      process.stdout.write(
        `${kind.padEnd(30)}${String(r[0].records).padStart(8)}${median(r.map((x) => x.wallS))
          .toFixed(2)
          .padStart(9)}${median(r.map((x) => x.cpuS))
          .toFixed(2)
          .padStart(8)}${perMillion.toFixed(2).padStart(12)}\n`,
      );
    }
    process.stdout.write(`load average at end ${load()}\n`);
  } finally {
    await sim.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      kind: { type: 'string' },
      sim: { type: 'string' },
      scale: { type: 'string', default: '5' },
      runs: { type: 'string', default: '5' },
    },
  });
  if (values.child !== undefined) {
    const kind = values.kind as Kind;
    const sim = JSON.parse(values.sim ?? '{}') as SimulatorAddress;
    const figures = values.child === 'first' ? await first(kind, sim) : await pages(kind, sim);
    process.stdout.write(JSON.stringify(figures));
    return;
  }
  const scale = Number(values.scale);
  const runs = Number(values.runs);
  if (!(scale > 0 && scale <= 100) || !(Number.isInteger(runs) && runs >= 1 && runs <= 50)) {
    throw new BenchError('--scale must be above 0 and at most 100, --runs a whole number 1–50');
  }
  await parent(scale, runs);
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${userMessage(error)}\n`);
  process.exitCode = 1;
});
