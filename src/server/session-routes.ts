import { Hono } from 'hono';
import { z } from 'zod';
import type { Auth } from './auth.js';
import { MAX_PASSWORD_LENGTH } from './auth.js';
import { HttpError } from './errors.js';
import { readJson, validate } from './http.js';
import type { Logger } from './logger.js';
import { getCookie } from 'hono/cookie';
import {
  DEVICE_COOKIE,
  clearSessionCookie,
  clientAddress,
  setDeviceCookie,
  setSessionCookie,
} from './middleware.js';
import type { AppEnv } from './middleware.js';

const loginBody = z.strictObject({ password: z.string().min(1).max(MAX_PASSWORD_LENGTH) });
const passwordBody = z.strictObject({
  currentPassword: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  newPassword: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/**
 * `POST /api/login`, `POST /api/logout`, `GET /api/session`, `POST /api/password`. Login is the only
 * one reachable without credentials. Password checks (login and change) are limited per client
 * address, per account and per device cookie (login-throttle.ts).
 */
export function sessionRoutes(deps: {
  auth: Auth;
  logger: Logger;
  clientKey?: (c: Parameters<typeof clientAddress>[0]) => string;
}): Hono<AppEnv> {
  const { auth, logger } = deps;
  const clientKey = deps.clientKey ?? clientAddress;
  const routes = new Hono<AppEnv>();

  routes.post('/login', async (c) => {
    const { password } = validate(loginBody, await readJson(c));
    const client = clientKey(c);
    const result = await auth.login(password, client, getCookie(c, DEVICE_COOKIE));
    if (!result.ok) {
      if (result.reason === 'rate-limited') {
        logger.warn({ client }, 'login refused: too many failed attempts');
        c.header('Retry-After', String(result.retryAfterSeconds));
        throw new HttpError(429, `too many failed logins; try again in ${result.retryAfterSeconds} s`);
      }
      if (result.reason === 'not-set') {
        throw new HttpError(403, 'no admin password is set: run `harvest-sync serve --set-password`');
      }
      logger.warn({ client }, 'login failed');
      throw new HttpError(401, 'wrong password');
    }
    setSessionCookie(c, auth, result.sessionId, result.session);
    setDeviceCookie(c, auth, result.device);
    logger.info({ client }, 'admin logged in');
    return c.json({
      authenticated: true,
      csrfToken: result.session.csrfToken,
      expiresAt: new Date(result.session.expiresAt).toISOString(),
    });
  });

  routes.post('/logout', (c) => {
    const principal = c.get('principal');
    if (principal?.kind === 'session') auth.logout(principal.sessionId);
    clearSessionCookie(c, auth);
    return c.json({ authenticated: false });
  });

  routes.get('/session', (c) => {
    const principal = c.get('principal');
    if (principal?.kind === 'session') {
      return c.json({
        authenticated: true,
        kind: 'session',
        csrfToken: principal.session.csrfToken,
        expiresAt: new Date(principal.session.expiresAt).toISOString(),
      });
    }
    return c.json({ authenticated: true, kind: 'token' });
  });

  routes.post('/password', async (c) => {
    const body = validate(passwordBody, await readJson(c));
    const check = await auth.checkPassword(body.currentPassword, clientKey(c), getCookie(c, DEVICE_COOKIE));
    if (!check.ok) {
      if (check.reason === 'rate-limited') {
        c.header('Retry-After', String(check.retryAfterSeconds));
        throw new HttpError(429, `too many failed attempts; try again in ${check.retryAfterSeconds} s`);
      }
      throw new HttpError(403, 'the current password is wrong');
    }
    try {
      await auth.setAdminPassword(body.newPassword);
    } catch (error) {
      throw new HttpError(400, error instanceof Error ? error.message : 'invalid password', {
        fields: { newPassword: error instanceof Error ? error.message : 'invalid password' },
      });
    }
    clearSessionCookie(c, auth);
    logger.info('admin password changed; every session ended');
    return c.json({ changed: true });
  });

  return routes;
}
