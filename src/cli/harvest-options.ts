import type { Command } from './commander.js';
import { valueOrThrow } from '../errors.js';
import { DEFAULT_BASE_URL, checkBaseUrl } from '../harvest/base-url.js';
import { checkRateLimit, type Checked, type RateLimitSetting } from '../limits.js';
import { checkAccountId, checkToken } from '../harvest/token.js';

/*
 * The flags every Harvest command takes, checked without zod: `run` and `check` start with these
 * checks, and loading zod alone took longer than the rest of the start (issue 16). The rules come
 * from limits.ts and harvest/base-url.ts, as the schemas' zod fields do (src/schema-fields.ts).
 */

/** Flags shared by every command that talks to Harvest; each also reads its environment variable. */
export function addHarvestOptions(command: Command): Command {
  return command
    .option('--token <token>', 'Harvest personal access token (env HARVEST_ACCESS_TOKEN)')
    .option('--account-id <id>', 'Harvest account id (env HARVEST_ACCOUNT_ID)')
    .option(
      '--base-url <url>',
      `Harvest API root, with or without /v2 (env HARVEST_BASE_URL, default ${DEFAULT_BASE_URL})`,
    )
    .option(
      '--rate-limit <requests/seconds>',
      'client-side request budget, e.g. 100/15 (Harvest publishes 100 per 15 s)',
    );
}

export interface HarvestFlags {
  token?: string;
  accountId?: string;
  baseUrl?: string;
  rateLimit?: string;
}

export interface HarvestConnection {
  readonly token: string;
  readonly accountId: string;
  /** Normalised (see normaliseBaseUrl). */
  readonly baseUrl: string;
  readonly rateLimit?: RateLimitSetting;
}

const TOKEN_REQUIRED = 'a Harvest access token is required: pass --token or set HARVEST_ACCESS_TOKEN';
const ACCOUNT_REQUIRED = 'a Harvest account id is required: pass --account-id or set HARVEST_ACCOUNT_ID';

/** A blank flag or variable counts as not given: its message says how to give it. */
function given(input: string | undefined): string | undefined {
  return input?.trim() ? input : undefined;
}

/** Validates the Harvest flags (falling back to the environment); a ConfigError names the first problem. */
export function parseHarvestFlags(
  flags: HarvestFlags,
  env: NodeJS.ProcessEnv = process.env,
): HarvestConnection {
  const token = valueOrThrow(
    checkToken('the access token', given(flags.token ?? env.HARVEST_ACCESS_TOKEN), {
      missing: TOKEN_REQUIRED,
    }),
  );
  const accountId = valueOrThrow(
    checkAccountId('the account id', given(flags.accountId ?? env.HARVEST_ACCOUNT_ID), {
      missing: ACCOUNT_REQUIRED,
    }),
  );
  const baseUrl = valueOrThrow(
    checkBaseUrl('the base URL', flags.baseUrl ?? env.HARVEST_BASE_URL ?? DEFAULT_BASE_URL),
  );
  const rateLimit = givenOrThrow(flags.rateLimit, (v) => checkRateLimit('the rate limit', v));
  return { token, accountId, baseUrl, ...(rateLimit === undefined ? {} : { rateLimit }) };
}

/** The checked value; a ConfigError with the check's message when it was refused (errors.ts). */
export { valueOrThrow };

/** undefined when the flag was not given; else its checked value (a ConfigError when refused). */
export function givenOrThrow<T>(
  flag: string | undefined,
  check: (input: string) => Checked<T>,
): T | undefined {
  return flag === undefined ? undefined : valueOrThrow(check(flag));
}
