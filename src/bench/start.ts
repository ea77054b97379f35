import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { userMessage } from '../errors.js';
import { checkWholeNumber } from '../limits.js';
import { startSimulator, type Simulator } from '../simulator/index.js';
import { BenchError } from './errors.js';

/*
 * `npm run bench:start` (issue 16): the CLI's fixed cost. Runs the built CLI N times, interleaved
 * with a bare `node -e 0` (what no program can beat on this machine), and prints the median and p90
 * of: start to the first HTTP request reaching a simulator (`run --objects clients` into a fresh
 * SQLite file), and start to exit on bad input (`--per-page abc`, an unknown object, no token).
 * Each time runs from just before spawn(), so every figure includes starting a process. Not a test:
 * it measures and prints. How to read it: docs/benchmarks.md.
 *
 *   node dist/bench/start.js [--runs 20]
 */

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const RUNS = { min: 1, max: 1000, default: 20 } as const;

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
}

interface Timed<T> {
  /** performance.now() just before spawn(). */
  readonly started: number;
  readonly ms: number;
  readonly result: T;
}

/** Runs `node ARGS` to its end; the time is from just before spawn() to the exit. */
function timeNode(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Timed<Exit>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ started, ms: performance.now() - started, result: { code, stderr } }),
    );
  });
}

/** A refusal as users must see it: exit code 2 and one `error:` line. */
function expectRefusal(label: string, exit: Exit): void {
  const lines = exit.stderr.trim().split('\n');
  if (exit.code !== 2 || !lines[0]?.startsWith('error: '))
    throw new BenchError(
      `${label}: expected one error line and exit code 2, got ${exit.code}: ${exit.stderr}`,
    );
}

const BAD_INPUTS: Readonly<Record<string, readonly string[]>> = {
  'bad input: --per-page abc': ['--per-page', 'abc', '--token', 'bench', '--account-id', '1'],
  'bad input: unknown object': ['--objects', 'nope', '--token', 'bench', '--account-id', '1'],
  'bad input: no token': ['--account-id', '1'],
};

/** Start of `run` to the first request the simulator sees; the run must then succeed. */
async function timeFirstRequest(sim: Simulator, db: string): Promise<number> {
  let first: number | undefined;
  sim.onRequest(() => {
    first ??= performance.now();
  });
  const args = [CLI, 'run', '--objects', 'clients', '--destination', `sqlite:${db}`, '--json'];
  const { started, result } = await timeNode(args, {
    HARVEST_ACCESS_TOKEN: sim.adminToken,
    HARVEST_ACCOUNT_ID: sim.accountId,
    HARVEST_BASE_URL: sim.url,
  });
  sim.onRequest(null);
  if (result.code !== 0 || first === undefined)
    throw new BenchError(`run failed (exit code ${result.code}): ${result.stderr}`);
  return first - started;
}

/** The sample's value at quantile `q` (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function measure(runs: number, sim: Simulator, dir: string): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>();
  const add = (label: string, ms: number) => samples.set(label, [...(samples.get(label) ?? []), ms]);
  for (let i = 0; i < runs; i++) {
    // interleaved, so that a busy moment of a shared machine weighs on every row alike
    add('node -e 0 (reference)', (await timeNode(['-e', '0'])).ms);
    add('run: start to first request', await timeFirstRequest(sim, join(dir, `run-${i}.db`)));
    for (const [label, flags] of Object.entries(BAD_INPUTS)) {
      const { ms, result } = await timeNode([CLI, 'run', ...flags]);
      expectRefusal(label, result);
      add(label, ms);
    }
  }
  return samples;
}

function report(samples: Map<string, number[]>): string {
  const reference = [...(samples.get('node -e 0 (reference)') ?? [])].sort((a, b) => a - b);
  const base = quantile(reference, 0.5);
  const width = Math.max(...[...samples.keys()].map((k) => k.length));
  const lines = [`${'figure'.padEnd(width)}  median ms   p90 ms   median - node -e 0`];
  for (const [label, values] of samples) {
    const sorted = [...values].sort((a, b) => a - b);
    const median = quantile(sorted, 0.5);
    const extra = label.startsWith('node') ? '' : `${(median - base).toFixed(0).padStart(8)}`;
    lines.push(
      `${label.padEnd(width)}  ${median.toFixed(0).padStart(9)}  ${quantile(sorted, 0.9).toFixed(0).padStart(7)}   ${extra}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const runs = checkWholeNumber('--runs', RUNS, values.runs ?? RUNS.default);
  if (!runs.ok) throw new BenchError(runs.message);
  const sim = await startSimulator({ scale: 0.01, rateLimit: null, timersGrow: false });
  const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
  try {
    const samples = await measure(runs.value, sim, dir);
    process.stdout.write(`${runs.value} runs each, load average ${loadavg()[0].toFixed(2)}\n`);
    process.stdout.write(report(samples) + '\n');
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${userMessage(error)}\n`);
  process.exitCode = 1;
});
