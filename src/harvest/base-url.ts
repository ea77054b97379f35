import { ConfigError } from '../errors.js';
import { URL_MAX_LENGTH, type Checked } from '../limits.js';

/** Harvest's own API root. Every request path (`/v2/...`, from the catalog) is appended to it. */
export const DEFAULT_BASE_URL = 'https://api.harvestapp.com';

/**
 * Why `input` cannot be a Harvest API root, as the end of a sentence ("… must be an http(s) URL"),
 * or null when it can. The caller names the field.
 */
export function baseUrlProblem(input: string): string | null {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return `must be an http(s) URL such as ${DEFAULT_BASE_URL}`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `must be an http(s) URL such as ${DEFAULT_BASE_URL}`;
  // the token goes to this URL: a user name or password in it would be sent along, and logged
  if (url.username || url.password) return 'must not hold a user name or password';
  if (url.search || url.hash) return 'must not have a query (?…) or a fragment (#…)';
  return null;
}

/**
 * The API root requests are built from: origin plus any proxy prefix, without a trailing `/v2` or
 * slash. Harvest's docs give the root as `https://api.harvestapp.com/v2`, and the catalog's paths
 * start with `/v2/`, so `https://api.harvestapp.com`, `…/`, `…/v2` and `…/v2/` all mean the same
 * root (and `http://proxy/harvest/v2/` means `http://proxy/harvest`). Throws a ConfigError naming
 * the problem for anything else.
 */
export function normaliseBaseUrl(input: string, field = 'the Harvest API root'): string {
  const problem = baseUrlProblem(input);
  if (problem !== null) throw new ConfigError(`${field} ${problem}`);
  const url = new URL(input.trim());
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '').replace(/\/+$/, '');
  return `${url.origin}${prefix}`;
}

/**
 * A Harvest API root, normalised (see normaliseBaseUrl): with or without `/v2`, with or without a
 * trailing slash. `field` starts every message ("baseUrl", "the base URL"). Free of zod, for the
 * CLI's start; src/schema-fields.ts makes it a zod field.
 */
export function checkBaseUrl(field: string, input: unknown): Checked<string> {
  if (typeof input !== 'string')
    return { ok: false, message: `${field} must be an http(s) URL such as ${DEFAULT_BASE_URL}` };
  const url = input.trim();
  if (url.length > URL_MAX_LENGTH)
    return { ok: false, message: `${field} is too long (at most ${URL_MAX_LENGTH} characters)` };
  const problem = baseUrlProblem(url);
  return problem === null
    ? { ok: true, value: normaliseBaseUrl(url) }
    : { ok: false, message: `${field} ${problem}` };
}
