import { Command } from '../commander.js';
import { ConfigError } from '../../errors.js';
import { valueOrThrow } from '../harvest-options.js';
import { checkToken } from '../../harvest/token.js';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ADMIN_TOKEN,
  DEFAULT_MANAGER_TOKEN,
  DEFAULT_MEMBER_TOKEN,
  startSimulator,
} from '../../simulator/index.js';
import type { SimulatorRateLimit } from '../../simulator/index.js';
import { action } from '../exit.js';

interface SimulateFlags {
  port: string;
  host: string;
  seed: string;
  scale: string;
  adminToken: string;
  memberToken: string;
  managerToken: string;
  accountId: string;
  /** commander turns `--no-rate-limit` into false. */
  rateLimit: string | boolean;
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

function rateLimitOf(value: string | boolean): SimulatorRateLimit | null {
  if (value === false) return null;
  const m = typeof value === 'string' ? /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(value) : null;
  const requests = m ? Number(m[1]) : NaN;
  const seconds = m ? Number(m[2]) : NaN;
  if (!(Number.isSafeInteger(requests) && requests >= 1 && seconds > 0 && seconds <= 86_400)) {
    throw new ConfigError('rate-limit must look like 100/15 (requests per seconds), or use --no-rate-limit');
  }
  return { requests, windowMs: Math.round(seconds * 1000) };
}

function secretLike(value: string, name: string): string {
  // a token the client would refuse could never be used against the simulator
  valueOrThrow(checkToken(name, value));
  return value;
}

/** `harvest-sync simulate`: a local Harvest API v2 to point `run`, `check` or curl at. */
export function simulateCommand(): Command {
  return new Command('simulate')
    .description('Serve a simulated Harvest API v2 account (seeded, deterministic) for trying and testing')
    .option('--port <n>', 'port to listen on (0: any free port)', '4010')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--seed <n>', 'seed of the generated account', '1')
    .option('--scale <x>', 'size: round(10000 × x) time entries, other objects in proportion', '1')
    .option('--admin-token <token>', 'token accepted as the administrator', DEFAULT_ADMIN_TOKEN)
    .option('--member-token <token>', 'token accepted as a member', DEFAULT_MEMBER_TOKEN)
    .option('--manager-token <token>', 'token accepted as a project manager', DEFAULT_MANAGER_TOKEN)
    .option('--account-id <id>', 'account id to require in Harvest-Account-Id', DEFAULT_ACCOUNT_ID)
    .option('--rate-limit <n/seconds>', 'requests allowed per rolling window', '100/15')
    .option('--no-rate-limit', 'never answer 429')
    .action(
      action(async (flags: SimulateFlags) => {
        const port = wholeNumber(flags.port, 'port', 0, 65535);
        const seed = wholeNumber(flags.seed, 'seed', 0, 2 ** 31 - 1);
        const scale = Number(flags.scale);
        if (!(scale > 0 && scale <= 1000))
          throw new ConfigError('scale must be a number above 0, at most 1000');
        if (!/^\d{1,12}$/.test(flags.accountId)) throw new ConfigError('account-id must be digits');
        // an empty host would listen on every interface
        if (flags.host.trim() === '' || flags.host.length > 253)
          throw new ConfigError('host must be an address such as 127.0.0.1');
        const adminToken = secretLike(flags.adminToken, 'admin-token');
        const memberToken = secretLike(flags.memberToken, 'member-token');
        const managerToken = secretLike(flags.managerToken, 'manager-token');
        if (new Set([adminToken, memberToken, managerToken]).size !== 3)
          throw new ConfigError('admin-token, member-token and manager-token must differ');
        const sim = await startSimulator({
          port,
          host: flags.host,
          seed,
          scale,
          adminToken,
          memberToken,
          managerToken,
          accountId: flags.accountId,
          rateLimit: rateLimitOf(flags.rateLimit),
        }).catch((error: unknown) => {
          const code = (error as { code?: string }).code;
          if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} is already in use (try --port 0)`);
          if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
            throw new ConfigError(`cannot listen on ${flags.host}`);
          throw error;
        });
        // these are the simulator's own made-up credentials, printed so they can be used at once
        process.stdout.write(
          [
            `Harvest API simulator listening on ${sim.url}`,
            `  admin token:  ${sim.adminToken}`,
            `  member token: ${sim.memberToken}`,
            `  manager token: ${sim.managerToken}`,
            `  account id:   ${sim.accountId}`,
            '',
            'Try:',
            `  harvest-sync run --base-url ${sim.url} --token ${sim.adminToken} --account-id ${sim.accountId} --destination sqlite:./sim.db`,
            `  curl -H 'Authorization: Bearer ${sim.adminToken}' -H 'Harvest-Account-Id: ${sim.accountId}' -A 'me (me@example.com)' ${sim.url}/v2/users/me`,
            '',
            'Press Ctrl+C to stop.',
            '',
          ].join('\n'),
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await sim.stop();
      }),
    );
}
