import { spawn } from 'node:child_process';
import { CLI } from '../../cli/cli-helpers.js';

/*
 * The built CLI run as a user runs it, with what test/cli/cli-helpers.ts's runCli lacks for the
 * bad-input table and the secrets sweep: text on stdin, and a deadline after which the process is
 * killed and reported as `timedOut` (an accepted `serve` or `simulate` would otherwise run forever).
 */

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

export interface CliRunOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Written to stdin, then stdin is closed; without it stdin is closed at once. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** The environment of this process without any HARVEST_* variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => !k.startsWith('HARVEST_') && v !== undefined),
  ) as Record<string, string>;
  return { ...clean, ...extra };
}

export function runCliProcess(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: cleanEnv(options.env),
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // a process that exits before reading its stdin makes the pipe fail: not an error here
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

/** Runs `work` over `items`, at most `width` at a time, keeping the order of the results. */
export async function inChunks<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}
