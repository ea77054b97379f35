import { Ajv, type ValidateFunction } from 'ajv';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import type { JsonObject } from '../../src/catalog/types.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';

/** The built bins, as users run them (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const TAP_BIN = fileURLToPath(new URL('../../dist/cli/tap-main.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const fixture = (name: string): JsonObject =>
  JSON.parse(readFileSync(new URL(`../fixtures/protocols/${name}`, import.meta.url), 'utf8')) as JsonObject;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * JSON-schema validation of what the connectors write: the protocols' own schemas (written from the
 * published specs, test/fixtures/protocols/) and each stream's record schema as the tap announced it.
 * Formats are checked, not just named: a date must be a real date, a date-time an RFC 3339 one.
 */
export class ProtocolValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    const real = (s: string) => !Number.isNaN(Date.parse(s));
    this.ajv.addFormat('date', (s: string) => DATE.test(s) && real(`${s}T00:00:00Z`));
    this.ajv.addFormat('date-time', (s: string) => DATE_TIME.test(s) && real(s));
    this.ajv.addFormat('uri', (s: string) => URL.canParse(s));
    this.ajv.addSchema(fixture('singer.schema.json'));
    this.ajv.addSchema(fixture('airbyte.schema.json'));
  }

  /** Throws, naming the first problem, when `value` breaks `ref` (e.g. `singer.schema.json#/definitions/message`). */
  check(ref: string, value: unknown): void {
    const validate = this.ajv.getSchema(`https://harvest-sync.test/protocols/${ref}`);
    if (!validate) throw new Error(`no schema ${ref}`);
    if (!validate(value))
      throw new Error(`${ref}: ${this.ajv.errorsText(validate.errors)} in ${preview(value)}`);
  }

  /** Throws when `data` does not follow `schema` (a stream's record schema). */
  checkAgainst(schema: JsonObject, data: unknown, what: string): void {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) this.compiled.set(key, (validate = this.ajv.compile(schema)));
    if (!validate(data))
      throw new Error(`${what}: ${this.ajv.errorsText(validate.errors)} in ${preview(data)}`);
  }
}

function preview(value: unknown): string {
  return JSON.stringify(value).slice(0, 300);
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Every complete stdout line, parsed (a line cut by a kill is left out). */
  readonly messages: JsonObject[];
  /** Complete stdout lines that are not JSON objects (a protocol stream has none). */
  readonly invalid: string[];
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /**
   * SIGKILL the process once this many stdout lines match, and take its output as ending with that
   * line: the process died right after writing it (what it wrote after is not delivered). A page of
   * records is one write, but a long one reaches a pipe in parts, so a death can fall mid-batch.
   */
  readonly killAfter?: { readonly count: number; readonly match: (message: JsonObject) => boolean };
  readonly timeoutMs?: number;
  /** Flags for node itself, before the file. */
  readonly nodeFlags?: readonly string[];
}

/** Runs a bin (`node FILE args…`) with a clean environment, collecting its JSON lines. */
export function runNode(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HARVEST_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), file, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let seen = 0;
    let lines = 0;
    let cut: number | undefined;
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    // decoded as a stream: a character split across two chunks stays whole
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      stdout += text;
      if (!options.killAfter || cut !== undefined) return;
      pending += text;
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        lines++;
        const message = parseLine(line);
        if (message && options.killAfter.match(message)) seen++;
        if (seen >= options.killAfter.count) {
          cut = lines;
          child.kill('SIGKILL');
          break;
        }
      }
    });
    child.stderr.on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const all = stdout.split('\n');
      const complete = (stdout.endsWith('\n') ? all : all.slice(0, -1)).slice(0, cut);
      const filled = complete.filter((l) => l.trim() !== '');
      const messages = filled.map(parseLine).filter((m): m is JsonObject => m !== null);
      const invalid = filled.filter((l) => parseLine(l) === null);
      resolve({ code, signal, messages, invalid, stdout, stderr });
    });
  });
}

function parseLine(line: string): JsonObject | null {
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}

/** A scratch directory with JSON files; removed by `cleanup`. */
export function scratch(): {
  dir: string;
  file: (name: string, value: unknown) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'harvest-sync-connector-'));
  return {
    dir,
    file: (name, value) => {
      const path = join(dir, name);
      writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The connector config for a simulator, with a limiter loose enough never to hold a test back. */
export function simConfig(sim: Simulator, extra: JsonObject = {}): JsonObject {
  return {
    access_token: sim.adminToken,
    account_id: sim.accountId,
    base_url: sim.url,
    user_agent: 'harvest-sync tests (dev@example.com)',
    rate_limit: '100000/1',
    ...extra,
  };
}

/** `harvest-sync run`'s flags for a simulator (the same loose limiter as simConfig). */
export function runFlags(sim: Simulator): string[] {
  return [
    '--token',
    sim.adminToken,
    '--account-id',
    sim.accountId,
    '--base-url',
    sim.url,
    '--rate-limit',
    '100000/1',
  ];
}

/** A simulator without rate limit and a scratch directory for one test file, started and removed around it. */
export function connectorWorld(options: SimulatorOptions): {
  readonly sim: Simulator;
  readonly files: ReturnType<typeof scratch>;
} {
  let sim: Simulator | undefined;
  let files: ReturnType<typeof scratch> | undefined;
  beforeAll(async () => {
    // records read at different moments are compared: running timers held still (their growth
    // without updated_at is test/simulator/replica.test.ts's subject)
    sim = await startSimulator({ rateLimit: null, timersGrow: false, ...options });
    files = scratch();
  });
  afterAll(async () => {
    await sim?.stop();
    files?.cleanup();
  });
  return {
    get sim() {
      if (!sim) throw new Error('the simulator is not started yet');
      return sim;
    },
    get files() {
      if (!files) throw new Error('the scratch directory is not made yet');
      return files;
    },
  };
}

/** A stack trace line, as Node prints them: a user must never see one. */
export const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;
