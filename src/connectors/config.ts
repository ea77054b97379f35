import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { RateLimit } from '../harvest/rate-limiter.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';
import { CONCURRENCY, PER_PAGE, sinceProblem } from '../limits.js';
import {
  accountIdField,
  baseUrlField,
  rateLimitField,
  tokenField,
  wholeNumberField,
} from '../schema-fields.js';

/**
 * The configuration the Singer tap (`--config`) and the Airbyte source (`--config`, described by
 * SPEC) share: one JSON object with snake_case keys, validated before anything is read or emitted.
 */
export interface ConnectorConfig {
  readonly token: string;
  readonly accountId: string;
  readonly baseUrl: string;
  readonly userAgent?: string;
  /** YYYY-MM-DD: the catalog's dated objects (sinceObjects) from then on. */
  readonly since?: string;
  readonly perPage?: number;
  readonly concurrency?: number;
  readonly rateLimit?: RateLimit;
}

const TOKEN_HELP = 'a Harvest personal access token (https://id.getharvest.com/developers)';
const START_DATE_RULE =
  'start_date must be a date such as 2024-01-31 (or an RFC 3339 date-time), not in the future';
const DATE = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const configSchema = z.object({
  access_token: tokenField('access_token', `access_token is required: ${TOKEN_HELP}`),
  account_id: accountIdField(
    'account_id',
    'account_id is required: the Harvest account id shown beside your personal access token',
  ),
  start_date: z
    .string({ error: START_DATE_RULE })
    .trim()
    .refine((d) => {
      const day = DATE.exec(d)?.[1];
      return day !== undefined && sinceProblem(day, Date.now()) === null;
    }, START_DATE_RULE)
    .transform((d) => d.slice(0, 10))
    .optional(),
  base_url: baseUrlField('base_url').optional(),
  user_agent: z
    .string({ error: 'user_agent must be text naming your product and a contact' })
    .trim()
    .min(1, 'user_agent must not be empty')
    .max(200, 'user_agent is too long (at most 200 characters)')
    .refine((u) => !/[\r\n]/.test(u), 'user_agent must be one line')
    .optional(),
  per_page: wholeNumberField('per_page', PER_PAGE).optional(),
  concurrency: wholeNumberField('concurrency', CONCURRENCY).optional(),
  rate_limit: rateLimitField('rate_limit').optional(),
});

/** Validates a parsed config file; a ConfigError names the first problem (never the token). */
export function parseConfig(value: unknown): ConnectorConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      'the config must be a JSON object such as {"access_token": "…", "account_id": "…"}',
    );
  }
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`config: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const c = parsed.data;
  return {
    token: c.access_token,
    accountId: c.account_id,
    baseUrl: c.base_url ?? DEFAULT_BASE_URL,
    ...(c.user_agent !== undefined ? { userAgent: c.user_agent } : {}),
    ...(c.start_date !== undefined ? { since: c.start_date } : {}),
    ...(c.per_page !== undefined ? { perPage: c.per_page } : {}),
    ...(c.concurrency !== undefined ? { concurrency: c.concurrency } : {}),
    ...(c.rate_limit !== undefined ? { rateLimit: c.rate_limit } : {}),
  };
}

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
  ENAMETOOLONG: 'the name is too long',
};

/** Reads a JSON file named on the command line; a ConfigError says which file and what is wrong. */
export function readJsonFile(path: string, what: string): unknown {
  const named = JSON.stringify(path.length > 120 ? `${path.slice(0, 119)}…` : path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = (code !== undefined && FILE_ERRORS[code]) || 'it cannot be read';
    throw new ConfigError(`cannot read the ${what} file ${named}: ${why}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // JSON.parse's message can quote the file (and so a token): only its position is repeated
    const position = error instanceof Error ? /position (\d+)/.exec(error.message)?.[1] : undefined;
    const where =
      position !== undefined ? ` at character ${position}` : text.trim() === '' ? ': it is empty' : '';
    throw new ConfigError(`the ${what} file ${named} is not valid JSON${where}`);
  }
}
