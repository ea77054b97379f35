import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI, as users run it (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion with a clean environment (no HARVEST_* leaking in from the shell). */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = startCli(args, env, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function startCli(args: string[], env: Record<string, string> = {}, cwd?: string): ChildProcess {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HARVEST_')),
  ) as Record<string, string>;
  return spawn(process.execPath, [CLI, ...args], {
    env: { ...clean, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A stack trace line, as Node prints them: a user must never see one. */
export const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;
