import { createServer } from 'node:net';
import { checkControlOptions } from '../../control/options.js';
import { ConfigError } from '../../errors.js';
import { DEFAULT_BASE_URL } from '../../harvest/base-url.js';
import { PORT, checkWholeNumber } from '../../limits.js';
import { DEFAULT_ALLOWED_HOSTS, parseAllowedHost } from '../../server/hosts.js';
import { parseLostAfter, parseMaxRuns } from '../cluster-flags.js';
import { Command } from '../commander.js';
import { controlOptionsOf } from '../control-flags.js';
import { action } from '../exit.js';
import { valueOrThrow } from '../harvest-options.js';

export interface ServeOptions {
  readonly port: string;
  readonly host: string;
  readonly dataDir?: string;
  readonly controlStore?: string;
  readonly setPassword?: boolean;
  readonly newApiToken?: boolean;
  readonly secureCookie?: boolean;
  readonly allowBaseUrl: string[];
  readonly allowedHost: string[];
  readonly sqliteRoot?: string;
  /** `--no-worker`: serve the UI and API only (PostgreSQL control store). */
  readonly worker: boolean;
  readonly maxRuns?: string;
  readonly lostAfter?: string;
}

/** Binds host:port and lets go at once: whether serve could listen there. */
function checkBindable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export function bindError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new ConfigError(`port ${port} on ${host} is already in use (choose another with --port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EINVAL' || code === 'EAI_FAIL')
    return new ConfigError(`cannot bind to ${host}: no such local address`);
  return error;
}

/** The names a request to the bound address carries in Host: the address itself, bracketed if IPv6. */
function bindNames(host: string): string[] {
  try {
    return [parseAllowedHost(host)];
  } catch {
    return [];
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve the HTTP API and run saved pipelines on their schedules, in one process')
    .option('--port <port>', 'port to listen on', String(PORT.default))
    .option(
      '--host <address>',
      'address to bind; anything but 127.0.0.1 exposes the server to the network',
      '127.0.0.1',
    )
    .option(
      '--data-dir <dir>',
      'data directory (control.db, secret.key, credentials.json); default $HARVEST_SYNC_HOME or ./.harvest-sync',
    )
    .option(
      '--control-store <url>',
      'keep pipelines and runs in PostgreSQL instead of SQLite in the data directory',
    )
    .option('--set-password', 'set the admin password from HARVEST_SYNC_ADMIN_PASSWORD or stdin, then exit')
    .option('--new-api-token', 'replace the API token with a new one, print it once, then exit')
    .option(
      '--secure-cookie',
      'always mark the session cookie Secure (when a TLS proxy serves harvest-sync over https)',
    )
    .option(
      '--allow-base-url <origin>',
      `let saved pipelines use this Harvest API origin besides ${DEFAULT_BASE_URL} (a proxy, the simulator); repeatable; env HARVEST_SYNC_ALLOWED_BASE_URLS (comma-separated)`,
      collect,
      [],
    )
    .option(
      '--sqlite-root <dir>',
      'saved pipelines may write SQLite files only inside this directory (relative paths are resolved there); default: the data directory; env HARVEST_SYNC_SQLITE_ROOT',
    )
    .option(
      '--allowed-host <name>',
      'answer requests addressed to this host name only (checked against Host); repeatable; default: the --host address, localhost, 127.0.0.1, [::1]',
      collect,
      [],
    )
    .option('--no-worker', 'PostgreSQL control store: serve the UI and API only; run no pipeline here')
    .option('--max-runs <n>', 'PostgreSQL control store: runs at a time in this process (1-64, default 2)')
    .option(
      '--lost-after <seconds>',
      'PostgreSQL control store: a worker silent this long is taken for dead (5-3600, default 60)',
    )
    .addHelpText(
      'after',
      `
Credentials: on first start an admin password and an API token are generated and printed once.
Log in to the UI or POST /api/login with the password; send "Authorization: Bearer <token>" from
scripts and Prometheus (GET /metrics). HARVEST_SYNC_API_TOKEN (32+ characters) replaces the stored
token; HARVEST_SYNC_ADMIN_PASSWORD sets the password on first start or with --set-password.
Both are stored hashed in <data-dir>/credentials.json (mode 0600), never in clear. More API tokens,
read-only (GET routes and /metrics) or admin, are made and revoked in the UI or with /api/tokens.`,
    )
    .action(action(serve));
}

/**
 * Every flag is checked, and the address bound once, before the server, the control store or the
 * web UI load: a bad one is one `error:` line without loading hono, pg, pg-boss or zod (issue 16;
 * test/cli/start-path.test.ts).
 */
async function serve(options: ServeOptions): Promise<number> {
  const port = valueOrThrow(checkWholeNumber('--port', PORT, options.port));
  const host = options.host.trim();
  if (host === '' || host.length > 253) throw new ConfigError('--host must be an address such as 127.0.0.1');
  const allowedHosts =
    options.allowedHost.length > 0
      ? options.allowedHost.map(parseAllowedHost)
      : [...new Set([...bindNames(host), ...DEFAULT_ALLOWED_HOSTS])];
  // checked before anything is written, like every other flag
  const { dataDir, controlStoreUrl } = checkControlOptions(controlOptionsOf(options));
  const maxRuns = options.maxRuns === undefined ? undefined : parseMaxRuns(options.maxRuns);
  const lostAfterMs = options.lostAfter === undefined ? undefined : parseLostAfter(options.lostAfter);
  if (
    controlStoreUrl === null &&
    (!options.worker || options.maxRuns !== undefined || options.lostAfter !== undefined)
  )
    throw new ConfigError(
      '--no-worker, --max-runs and --lost-after need a PostgreSQL control store (--control-store); with SQLite, serve runs every pipeline itself',
    );
  // a bad --host or a taken --port is refused before the data directory or credentials are written
  if (!options.setPassword && !options.newApiToken)
    await checkBindable(host, port).catch((error: unknown) => {
      throw bindError(error, host, port);
    });
  const { runServe } = await import('../serve-run.js');
  return runServe({ options, port, host, allowedHosts, dataDir, maxRuns, lostAfterMs });
}
