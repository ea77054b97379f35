import type { MiddlewareHandler } from 'hono';
import { ConfigError } from '../errors.js';
import { errorBody } from './errors.js';
import type { AppEnv } from './middleware.js';

/*
 * The names `serve` answers for. A page on any site can make a browser talk to 127.0.0.1 by pointing
 * its own name there (DNS rebinding); the request then carries that site's name in `Host`. Checking
 * `Host` on every request, before anything else, leaves such a page nothing to talk to: not even
 * health or login.
 */

export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/**
 * A host name, IPv4 address or IPv6 address (bracketed or not) in the form `Host` carries it
 * (`[::1]`, lower case), or a ConfigError saying what is expected.
 */
export function parseAllowedHost(value: string): string {
  const v = value.trim().toLowerCase();
  const problem = () =>
    new ConfigError(
      `--allowed-host takes a host name (sync.example.com) or an IP address (127.0.0.1, [::1]), not "${value.slice(0, 100)}"`,
    );
  if (v === '' || v.length > 253) throw problem();
  if (v.includes(':')) {
    const bare = v.replace(/^\[(.*)\]$/, '$1');
    if (!/^[0-9a-f:.]+$/.test(bare)) throw problem();
    try {
      return new URL(`http://[${bare}]/`).hostname;
    } catch {
      throw problem();
    }
  }
  if (IPV4.test(v)) return v;
  const labels = v.replace(/\.$/, '').split('.');
  // a last label of digits only would be read as an IPv4 number (http://12345 is 0.0.48.57)
  if (!labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1) ?? '')) throw problem();
  return labels.join('.');
}

/** The hostname a request was addressed to, as `Host` gave it (no port, lower case, IPv6 bracketed). */
function requestHost(url: string): string {
  try {
    return new URL(url).hostname.replace(/\.$/, '');
  } catch {
    return '';
  }
}

/** Answers 421 JSON to a request whose `Host` is not one of `allowed`. */
export function hostCheck(allowed: readonly string[]): MiddlewareHandler<AppEnv> {
  const names = new Set(allowed.map(parseAllowedHost));
  return async (c, next) => {
    const host = requestHost(c.req.url);
    if (!names.has(host)) {
      return c.json(
        errorBody(
          `this server does not answer for the host "${host.slice(0, 100)}": start serve with --allowed-host ${host === '' ? 'NAME' : host.slice(0, 100)} if that is one of its names`,
        ),
        421,
      );
    }
    await next();
  };
}
