import type { HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { Auth } from './auth.js';
import type { Session, TokenScope } from './auth.js';
import { HttpError, errorBody } from './errors.js';

/*
 * The HTTP side of authentication, shared by the JSON API and the server-rendered UI:
 * - `authenticate` recognises a bearer API token or the `hs_session` cookie (never rejects);
 * - `requireAuth` answers 401 JSON when neither is there;
 * - `csrfProtection` refuses cross-origin form posts (hono/csrf) and, for cookie sessions, any
 *   state-changing request without the session's CSRF token. Bearer requests are exempt: a browser
 *   never adds an Authorization header on its own.
 */

export const SESSION_COOKIE = 'hs_session';
export const CSRF_HEADER = 'x-csrf-token';
/** Form field that carries the CSRF token in server-rendered forms. */
export const CSRF_FORM_FIELD = '_csrf';

export const DEVICE_COOKIE = 'hs_device';
/** A device cookie outlives sessions: it only spares its browser other people's failed logins. */
const DEVICE_COOKIE_MAX_AGE_S = 400 * 24 * 3600;

export type Principal =
  | { readonly kind: 'token'; readonly tokenId: string; readonly scope: TokenScope }
  | { readonly kind: 'session'; readonly sessionId: string; readonly session: Session };

/** Hono environment of the app: what middleware puts on the context for later handlers. */
export interface AppEnv {
  /** The Node request and response (absent under `app.request()` in tests). */
  Bindings: Partial<HttpBindings>;
  Variables: {
    principal?: Principal;
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * The client's address as the socket saw it, as login limiting counts it: an IPv4-mapped address as
 * IPv4, an IPv6 address by its /64 (one host usually holds a whole /64). Proxies are not trusted, so
 * X-Forwarded-For is not read.
 */
export function clientAddress(c: Context): string {
  let address: string;
  try {
    address = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // app.request() in tests has no socket
    return 'unknown';
  }
  return limitKeyOfAddress(address);
}

export function limitKeyOfAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  try {
    // the URL parser expands and normalises the address: [2001:db8::1] → [2001:db8::1]
    const groups = new URL(`http://[${address.replace(/%.*$/, '')}]`).hostname.slice(1, -1);
    const [head, tail = ''] = groups.split('::');
    const left = head === '' ? [] : head.split(':');
    const right = tail === '' ? [] : tail.split(':');
    const full = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
    return `${full.slice(0, 4).join(':')}::/64`;
  } catch {
    return address;
  }
}

export function isSecureRequest(c: Context, setting: boolean | 'auto'): boolean {
  if (setting !== 'auto') return setting;
  return new URL(c.req.url).protocol === 'https:';
}

export function setSessionCookie(c: Context, auth: Auth, sessionId: string, session: Session): void {
  setCookie(c, SESSION_COOKIE, sessionId, {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax',
    secure: isSecureRequest(c, auth.secureCookie),
    maxAge: Math.max(0, Math.floor((session.expiresAt - session.createdAt) / 1000)),
  });
}

export function setDeviceCookie(c: Context, auth: Auth, value: string): void {
  setCookie(c, DEVICE_COOKIE, value, {
    path: '/api/',
    httpOnly: true,
    sameSite: 'Strict',
    secure: isSecureRequest(c, auth.secureCookie),
    maxAge: DEVICE_COOKIE_MAX_AGE_S,
  });
}

export function clearSessionCookie(c: Context, auth: Auth): void {
  deleteCookie(c, SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax',
    secure: isSecureRequest(c, auth.secureCookie),
  });
}

const unauthorized = errorBody('authentication required: log in or send Authorization: Bearer <API token>');

export function authenticate(auth: Auth): MiddlewareHandler<AppEnv> {
  const bearer = bearerAuth<AppEnv>({
    verifyToken: (token, c) => {
      const grant = auth.apiTokenGrant(token);
      if (grant) c.set('principal', { kind: 'token', tokenId: grant.id, scope: grant.scope });
      return grant !== null;
    },
    noAuthenticationHeader: { message: unauthorized },
    invalidAuthenticationHeader: {
      message: errorBody('malformed Authorization header: expected Bearer <token>'),
    },
    invalidToken: { message: errorBody('invalid API token') },
  });
  return async (c, next) => {
    if (c.req.header('authorization') !== undefined) {
      // a wrong token is refused outright rather than falling back to the cookie
      return bearer(c, next);
    }
    const sessionId = getCookie(c, SESSION_COOKIE);
    if (sessionId !== undefined) {
      const session = auth.session(sessionId);
      if (session) c.set('principal', { kind: 'session', sessionId, session });
    }
    await next();
  };
}

export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get('principal') === undefined) {
    return c.json(unauthorized, 401, { 'WWW-Authenticate': 'Bearer realm="harvest-sync"' });
  }
  await next();
};

/** A read-scope token may read (GET, HEAD) and nothing else; sessions and admin tokens may do all. */
export const readOnlyTokens: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = c.get('principal');
  if (principal?.kind === 'token' && principal.scope === 'read' && !READ_METHODS.has(c.req.method)) {
    return c.json(
      errorBody('this API token is read-only (scope read): use an admin token or log in to make changes'),
      403,
    );
  }
  await next();
};

async function presentedCsrfToken(c: Context): Promise<string | undefined> {
  const header = c.req.header(CSRF_HEADER);
  if (header !== undefined) return header;
  const type = c.req.header('content-type') ?? '';
  if (/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
    // parseBody caches the result, so the route handler can read the form again
    const form = await c.req.parseBody();
    const value = form[CSRF_FORM_FIELD];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

export function csrfProtection(): MiddlewareHandler<AppEnv> {
  const sameOrigin: MiddlewareHandler<AppEnv> = csrf();
  return async (c, next) => {
    const principal = c.get('principal');
    // only a browser's ambient credentials (the cookie) can be abused cross-site
    if (principal?.kind === 'token') return next();
    return sameOrigin(c, async () => {
      if (!SAFE_METHODS.has(c.req.method) && principal?.kind === 'session') {
        if (!Auth.csrfMatches(principal.session, await presentedCsrfToken(c))) {
          throw new HttpError(403, `missing or wrong CSRF token: send the session's token in ${CSRF_HEADER}`);
        }
      }
      await next();
    });
  };
}
