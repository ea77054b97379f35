import { ConfigError } from '../errors.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';

/*
 * Where a saved pipeline may send its Harvest token. A pipeline's token is stored encrypted and sent
 * by the scheduler without anyone typing it, so whoever may change a pipeline must not be able to
 * point it at a server of their own: a saved pipeline talks to Harvest's own host, or to an origin
 * the operator allows when starting the process (`--allow-base-url`, HARVEST_SYNC_ALLOWED_BASE_URLS):
 * the simulator, a proxy. Checked when a pipeline is saved and again when it runs. The one-shot `run`
 * command needs no list: its token is given there and then, by the person sending it.
 */

export const HARVEST_API_ORIGIN = new URL(DEFAULT_BASE_URL).origin;
export const ALLOWED_BASE_URLS_ENV = 'HARVEST_SYNC_ALLOWED_BASE_URLS';
const ORIGIN_MAX_LENGTH = 2048;

/** The origin of an http(s) URL (`https://host[:port]`, lower-cased, default port dropped), or null. */
export function originOf(url: string): string | null {
  try {
    const parsed = new URL(url.trim());
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/** Parses one allow-list entry: an http(s) origin and nothing more. Throws ConfigError. */
export function parseAllowedOrigin(value: string): string {
  const v = value.trim();
  const howTo = `--allow-base-url (and ${ALLOWED_BASE_URLS_ENV}) takes origins such as http://127.0.0.1:4010 or https://harvest-proxy.internal`;
  if (v === '' || v.length > ORIGIN_MAX_LENGTH) throw new ConfigError(`${howTo}, not an empty or huge value`);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(`${howTo}; "${v.slice(0, 100)}" is not a URL`);
  }
  const bare =
    (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
    parsed.username === '' &&
    parsed.password === '' &&
    (parsed.pathname === '/' || parsed.pathname === '') &&
    parsed.search === '' &&
    parsed.hash === '' &&
    !/[?#]/.test(v);
  if (!bare) throw new ConfigError(`${howTo}: a scheme, a host and a port, no path, user or query`);
  return parsed.origin;
}

export class BaseUrlPolicy {
  readonly #origins: ReadonlySet<string>;

  private constructor(origins: Iterable<string>) {
    this.#origins = new Set([HARVEST_API_ORIGIN, ...origins]);
  }

  /** Only Harvest's own API: the default wherever no list is given. */
  static harvestOnly(): BaseUrlPolicy {
    return new BaseUrlPolicy([]);
  }

  /**
   * From `--allow-base-url` values and HARVEST_SYNC_ALLOWED_BASE_URLS (comma-separated). Throws
   * ConfigError on an entry that is not a bare http(s) origin.
   */
  static from(sources: { readonly flags?: readonly string[]; readonly env?: string }): BaseUrlPolicy {
    const fromEnv = (sources.env ?? '').split(',').filter((s) => s.trim() !== '');
    return new BaseUrlPolicy([...(sources.flags ?? []), ...fromEnv].map(parseAllowedOrigin));
  }

  /** The allowed origins, Harvest's first. */
  get origins(): readonly string[] {
    return [...this.#origins];
  }

  allows(baseUrl: string): boolean {
    const origin = originOf(baseUrl);
    return origin !== null && this.#origins.has(origin);
  }

  /** Null when a saved pipeline may use `baseUrl`; else the one-line reason. */
  problem(baseUrl: string): string | null {
    if (this.allows(baseUrl)) return null;
    const shown = originOf(baseUrl) ?? baseUrl.slice(0, 100);
    return `${shown} is not an allowed Harvest API URL: a saved pipeline talks to ${HARVEST_API_ORIGIN}, or to an origin the operator allows with --allow-base-url or ${ALLOWED_BASE_URLS_ENV}`;
  }
}
