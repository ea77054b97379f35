import type { HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { Auth } from './auth.js';
import type { Session } from './auth.js';
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

export type Principal =
  | { readonly kind: 'token' }
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

/** The client's address as the socket saw it; proxies are not trusted, so X-Forwarded-For is not read. */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // app.request() in tests has no socket
    return 'unknown';
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
    verifyToken: (token) => auth.verifyApiToken(token),
    noAuthenticationHeader: { message: unauthorized },
    invalidAuthenticationHeader: {
      message: errorBody('malformed Authorization header: expected Bearer <token>'),
    },
    invalidToken: { message: errorBody('invalid API token') },
  });
  return async (c, next) => {
    if (c.req.header('authorization') !== undefined) {
      // a wrong token is refused outright rather than falling back to the cookie
      return bearer(c, async () => {
        c.set('principal', { kind: 'token' });
        await next();
      });
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
