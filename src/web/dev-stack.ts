import { chromium, type Browser } from 'playwright-core';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../simulator/index.js';
import type { Simulator } from '../simulator/index.js';
import { chromiumPath } from './chromium-path.js';

/*
 * A real `harvest-sync serve` process beside an in-process Harvest simulator: what the browser tests
 * and the screenshot script drive. Uses the built CLI (dist/cli/main.js), as users run it.
 */

export interface UiStack {
  /** Base URL of the serve process, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly password: string;
  readonly simulator: Simulator;
  readonly dataDir: string;
  /** Everything serve printed (stdout and stderr), for assertions and failure reports. */
  output(): string;
  stop(): Promise<void>;
}

export interface UiStackOptions {
  /** Simulator size (1 = a large account). Default 0.05. */
  readonly scale?: number;
  readonly password?: string;
  /** Path of the built CLI; default dist/cli/main.js of this checkout. */
  readonly cli?: string;
  /** Harvest API origins pipelines may use besides the simulator's (`--allow-base-url`). */
  readonly allowBaseUrls?: readonly string[];
}

export function builtCli(): string {
  // dist/web/dev-stack.js and src/web/dev-stack.ts are both two levels below the package root
  return fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
}

export async function startUiStack(options: UiStackOptions = {}): Promise<UiStack> {
  const password = options.password ?? 'correct horse battery staple';
  const simulator = await startSimulator({ scale: options.scale ?? 0.05, rateLimit: null });
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-ui-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HARVEST_')));
  const child = spawn(
    process.execPath,
    // the simulator is not Harvest: saved pipelines may use it only when allowed
    [
      options.cli ?? builtCli(),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      ...[simulator.url, ...(options.allowBaseUrls ?? [])].flatMap((origin) => ['--allow-base-url', origin]),
    ],
    {
      env: { ...env, HARVEST_SYNC_ADMIN_PASSWORD: password, HARVEST_SYNC_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let url: string;
  try {
    url = await listeningUrl(child, (line) => (output += `${line}\n`));
  } catch (error) {
    child.kill('SIGKILL');
    await simulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`serve did not start: ${(error as Error).message}\n${output}`);
  }
  return {
    url,
    password,
    simulator,
    dataDir,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await simulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the URL from serve's "listening" log line; rejects if it exits first. */
function listeningUrl(child: ChildProcess, onLine: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('no stdout'));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      onLine(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'harvest-sync serve listening' && entry.url) resolve(entry.url);
      } catch {
        // the first-start banner is plain text
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with code ${code}`)));
  });
}

/**
 * Debian's chromium (HARVEST_SYNC_CHROMIUM overrides /usr/bin/chromium), headless. The background-networking
 * flags keep it from reaching for Google's hosts, which this machine's closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
