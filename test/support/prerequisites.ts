import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { redactUrl } from '../../src/destinations/index.js';
import { chromiumPath } from '../../src/web/chromium-path.js';

/*
 * What the suite needs besides `npm install`: Debian's chromium, a PostgreSQL server and a
 * MySQL/MariaDB server. Each check gives one line a person can act on, never a stack trace.
 */

/** A line for the person running the tests: `problem` lines stop the run. */
export interface Finding {
  readonly kind: 'note' | 'problem';
  readonly line: string;
}

const CONNECT_TIMEOUT_MS = 5_000;
const APT_TIMEOUT_MS = 15 * 60_000;

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ChromiumSituation {
  readonly path: string;
  /** The path was chosen by HARVEST_SYNC_CHROMIUM/CHROMIUM_PATH rather than Debian's default. */
  readonly chosen: boolean;
  readonly present: boolean;
  /** Root with apt-get: the test command may install Debian's package itself. */
  readonly canInstall: boolean;
}

export type ChromiumPlan =
  { readonly action: 'none' | 'install' } | { readonly action: 'stop'; readonly line: string };

/** What to do about chromium; a path the user chose is never "fixed" by installing another. */
export function planChromium(s: ChromiumSituation): ChromiumPlan {
  if (s.present) return { action: 'none' };
  if (s.chosen)
    return {
      action: 'stop',
      line: `chromium: HARVEST_SYNC_CHROMIUM names ${s.path}, which is not an executable file`,
    };
  if (s.canInstall) return { action: 'install' };
  return {
    action: 'stop',
    line: `chromium: not found at ${s.path}; install Debian's (apt-get install chromium) or set HARVEST_SYNC_CHROMIUM=/path/to/chromium`,
  };
}

function canApt(): boolean {
  return process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

function currentChromium(): ChromiumSituation {
  const path = chromiumPath();
  const chosen = Boolean(process.env.HARVEST_SYNC_CHROMIUM || process.env.CHROMIUM_PATH);
  const present = isExecutable(path);
  return { path, chosen, present, canInstall: !present && !chosen && canApt() };
}

/** Installs Debian's chromium quietly; the last line apt-get wrote when it fails. */
function aptInstallChromium(): string | null {
  const run = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], {
    encoding: 'utf8',
    timeout: APT_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (run.status === 0) return null;
  const said = `${run.stderr ?? ''}\n${run.stdout ?? ''}`.trim().split('\n').filter(Boolean).pop();
  return said ?? run.error?.message ?? `exit code ${run.status}`;
}

export function ensureChromium(
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Finding[] {
  const situation = currentChromium();
  const plan = planChromium(situation);
  if (plan.action === 'none') return [];
  if (plan.action === 'stop') return [{ kind: 'problem', line: plan.line }];
  say(
    `chromium: not found at ${situation.path}; installing Debian's package (apt-get install chromium), once…`,
  );
  const failure = aptInstallChromium();
  if (failure !== null || !isExecutable(situation.path))
    return [
      {
        kind: 'problem',
        line: `chromium: apt-get install chromium failed (${failure ?? 'no executable afterwards'}); install it by hand or set HARVEST_SYNC_CHROMIUM=/path/to/chromium`,
      },
    ];
  return [{ kind: 'note', line: `chromium: installed ${situation.path}` }];
}

/** How one kind of server is reached and, when the test database is missing, given one. */
interface ServerKind {
  readonly label: string;
  readonly variable: string;
  readonly example: string;
  /** Connects to `url`, runs one statement, disconnects; throws what the driver throws. */
  execute(url: string, sql: string): Promise<void>;
  missingDatabase(error: unknown): boolean;
  /** The URL of the same server without the test database (to create it from). */
  serverUrl(url: URL): string;
  createStatement(name: string): string;
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;

const withPath = (url: URL, path: string): string => Object.assign(new URL(url), { pathname: path }).href;

const POSTGRES: ServerKind = {
  label: 'PostgreSQL',
  variable: 'HARVEST_SYNC_TEST_PG_URL',
  example: 'postgres://USER@HOST:5432/DB',
  async execute(url, sql) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  },
  missingDatabase: (error) => codeOf(error) === '3D000',
  serverUrl: (url) => withPath(url, '/postgres'),
  createStatement: (name) => `create database "${name.replaceAll('"', '""')}"`,
};

const MYSQL: ServerKind = {
  label: 'MySQL/MariaDB',
  variable: 'HARVEST_SYNC_TEST_MYSQL_URL',
  example: 'mysql://USER@HOST:3306/DB',
  async execute(url, sql) {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: CONNECT_TIMEOUT_MS });
    try {
      await connection.query(sql);
    } finally {
      await connection.end().catch(() => {});
    }
  },
  missingDatabase: (error) => codeOf(error) === 'ER_BAD_DB_ERROR',
  serverUrl: (url) => withPath(url, '/'),
  createStatement: (name) => `create database if not exists \`${name.replaceAll('`', '``')}\``,
};

const oneLine = (error: unknown): string =>
  (error instanceof Error ? error.message || codeOf(error) || error.name : String(error)).split('\n')[0];

/** Reaches the server; creates the test database when the server answers but lacks it. */
async function checkServer(kind: ServerKind, url: string): Promise<Finding[]> {
  const shown = redactUrl(url);
  const hint = `start one, or point the tests at one with ${kind.variable}=${kind.example}`;
  try {
    await kind.execute(url, 'select 1');
    return [];
  } catch (error) {
    if (!kind.missingDatabase(error))
      return [
        { kind: 'problem', line: `${kind.label}: cannot connect to ${shown} (${oneLine(error)}); ${hint}` },
      ];
  }
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  try {
    await kind.execute(kind.serverUrl(new URL(url)), kind.createStatement(name));
    await kind.execute(url, 'select 1');
    return [
      { kind: 'note', line: `${kind.label}: created the database "${name}" at ${shown} for the tests` },
    ];
  } catch (error) {
    return [
      {
        kind: 'problem',
        line: `${kind.label}: the database "${name}" at ${shown} is missing and could not be created (${oneLine(error)}); create it, or set ${kind.variable}`,
      },
    ];
  }
}

export const checkPostgres = (url: string): Promise<Finding[]> => checkServer(POSTGRES, url);
export const checkMysql = (url: string): Promise<Finding[]> => checkServer(MYSQL, url);
