import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { DEFAULT_BASE_URL, checkBaseUrl } from '../harvest/base-url.js';
import { checkRateLimit, type Checked, type RateLimitSetting } from '../limits.js';
import { TOKEN_MAX_LENGTH, TOKEN_PATTERN } from '../harvest/token.js';

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

function checkToken(input: string | undefined): Checked<string> {
  const token = input?.trim() ?? '';
  if (token === '') return { ok: false, message: TOKEN_REQUIRED };
  if (token.length > TOKEN_MAX_LENGTH)
    return { ok: false, message: `the access token is too long (more than ${TOKEN_MAX_LENGTH} characters)` };
  if (!TOKEN_PATTERN.test(token))
    return { ok: false, message: 'the access token may only hold letters, digits and . _ - ~ + / =' };
  return { ok: true, value: token };
}

function checkAccountId(input: string | undefined): Checked<string> {
  if (input === undefined) return { ok: false, message: ACCOUNT_REQUIRED };
  const id = input.trim();
  return /^\d{1,19}$/.test(id)
    ? { ok: true, value: id }
    : {
        ok: false,
        message: 'the account id must be a number (Harvest shows it next to your personal access token)',
      };
}

/** Validates the Harvest flags (falling back to the environment); a ConfigError names the first problem. */
export function parseHarvestFlags(
  flags: HarvestFlags,
  env: NodeJS.ProcessEnv = process.env,
): HarvestConnection {
  const token = valueOrThrow(checkToken(flags.token ?? env.HARVEST_ACCESS_TOKEN));
  const accountId = valueOrThrow(checkAccountId(flags.accountId ?? env.HARVEST_ACCOUNT_ID));
  const baseUrl = valueOrThrow(
    checkBaseUrl('the base URL', flags.baseUrl ?? env.HARVEST_BASE_URL ?? DEFAULT_BASE_URL),
  );
  const rateLimit = givenOrThrow(flags.rateLimit, (v) => checkRateLimit('the rate limit', v));
  return { token, accountId, baseUrl, ...(rateLimit === undefined ? {} : { rateLimit }) };
}

/** The checked value; a ConfigError with the check's message when it was refused. */
export function valueOrThrow<T>(checked: Checked<T>): T {
  if (!checked.ok) throw new ConfigError(checked.message);
  return checked.value;
}

/** undefined when the flag was not given; else its checked value (a ConfigError when refused). */
export function givenOrThrow<T>(
  flag: string | undefined,
  check: (input: string) => Checked<T>,
): T | undefined {
  return flag === undefined ? undefined : valueOrThrow(check(flag));
}
