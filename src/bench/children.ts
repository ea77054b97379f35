import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NODE_FLAGS } from '../heap.js';
import { BenchError } from './errors.js';
import { REPORT_PREFIX } from './protocol.js';
import type { ScenarioReport, ScenarioSpec, SimulatorAddress } from './protocol.js';

const script = (name: string): string => new URL(`./${name}`, import.meta.url).pathname;

/** Children still running, stopped if the bench is interrupted. */
const running = new Set<ChildProcess>();

export function stopChildren(): void {
  for (const child of running) child.kill('SIGTERM');
}

/** Starts `script` with one JSON argument and resolves with its report line, parsed. */
function runChild<T>(
  name: string,
  arg: unknown,
  options: { keepRunning?: boolean } = {},
): Promise<{ report: T; child: ChildProcess }> {
  // scenario processes run with the flags the `harvest-sync` bin runs with (src/heap.ts)
  const flags = name === 'scenario.js' ? NODE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, script(name), JSON.stringify(arg)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const line = buffered.split('\n').find((l) => l.startsWith(REPORT_PREFIX));
      if (line !== undefined && !done && (options.keepRunning || buffered.endsWith('\n'))) {
        done = true;
        resolve({ report: JSON.parse(line.slice(REPORT_PREFIX.length)) as T, child });
      }
    });
    child.on('error', (error) => reject(new BenchError(`${name}: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (!done) reject(new BenchError(`${name} ended (${signal ?? `exit ${code}`}) without a report`));
    });
  });
}

/** CPU seconds (user + system) a live process has used, from /proc; null where there is no /proc. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export interface SimulatorProcess {
  readonly address: SimulatorAddress;
  readonly pid: number | undefined;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** A simulator in its own process (sim-process.js), driven through its /_simulator routes. */
export async function startSimulatorProcess(
  scale: number,
  seed: number,
  cachePages = false,
): Promise<SimulatorProcess> {
  const { report: address, child } = await runChild<SimulatorAddress>(
    'sim-process.js',
    { scale, seed, cachePages },
    { keepRunning: true },
  );
  return {
    address,
    pid: child.pid,
    async control(method, path, body) {
      const response = await fetch(`${address.url}/_simulator/${path}`, {
        method,
        headers: { Authorization: `Bearer ${address.adminToken}`, 'Content-Type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      if (!response.ok) throw new BenchError(`simulator: ${method} ${path} answered ${response.status}`);
      return text === '' ? null : (JSON.parse(text) as unknown);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      await exited;
    },
  };
}

/** Runs one scenario in a fresh process (scenario.js) and returns what it reported. */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioReport> {
  const { report } = await runChild<ScenarioReport>('scenario.js', spec);
  return report;
}
