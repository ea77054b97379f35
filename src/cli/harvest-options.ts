import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_BASE_URL, baseUrlField } from '../harvest/base-url.js';
import { rateLimitField } from '../limits.js';
import { TOKEN_MAX_LENGTH, TOKEN_PATTERN } from '../harvest/token.js';

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

const connectionSchema = z.object({
  token: z
    .string({ error: 'a Harvest access token is required: pass --token or set HARVEST_ACCESS_TOKEN' })
    .trim()
    .min(1, 'a Harvest access token is required: pass --token or set HARVEST_ACCESS_TOKEN')
    .max(TOKEN_MAX_LENGTH, `the access token is too long (more than ${TOKEN_MAX_LENGTH} characters)`)
    .refine((t) => TOKEN_PATTERN.test(t), 'the access token may only hold letters, digits and . _ - ~ + / ='),
  accountId: z
    .string({ error: 'a Harvest account id is required: pass --account-id or set HARVEST_ACCOUNT_ID' })
    .trim()
    .regex(
      /^\d{1,19}$/,
      'the account id must be a number (Harvest shows it next to your personal access token)',
    ),
  baseUrl: baseUrlField('the base URL'),
  rateLimit: rateLimitField('the rate limit').optional(),
});

export type HarvestConnection = z.output<typeof connectionSchema>;

/** Validates the Harvest flags (falling back to the environment); a ConfigError names the first problem. */
export function parseHarvestFlags(
  flags: HarvestFlags,
  env: NodeJS.ProcessEnv = process.env,
): HarvestConnection {
  return parseOrThrow(connectionSchema, {
    token: flags.token ?? env.HARVEST_ACCESS_TOKEN,
    accountId: flags.accountId ?? env.HARVEST_ACCOUNT_ID,
    baseUrl: flags.baseUrl ?? env.HARVEST_BASE_URL ?? DEFAULT_BASE_URL,
    rateLimit: flags.rateLimit,
  });
}

/** Parses with a zod schema; on failure throws a ConfigError carrying the first issue's message. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ConfigError(parsed.error.issues[0]?.message ?? 'invalid input');
  return parsed.data;
}
