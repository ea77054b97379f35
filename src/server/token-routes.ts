import { Hono } from 'hono';
import { z } from 'zod';
import type { Auth } from './auth.js';
import { TOKEN_SCOPES } from './auth.js';
import { HttpError } from './errors.js';
import { readJson, validate } from './http.js';
import type { Logger } from './logger.js';
import type { AppEnv } from './middleware.js';

export const TOKEN_NAME_MAX_LENGTH = 100;

const nameMessage = `name must be 1 to ${TOKEN_NAME_MAX_LENGTH} characters, on one line`;
const createBody = z.strictObject({
  name: z
    .string({ error: nameMessage })
    .trim()
    .min(1, nameMessage)
    .max(TOKEN_NAME_MAX_LENGTH, nameMessage)
    .refine((v) => !/\p{Cc}/u.test(v), nameMessage),
  scope: z.enum(TOKEN_SCOPES, {
    error: 'scope must be "read" (GET routes and /metrics) or "admin" (everything)',
  }),
});

/**
 * `GET/POST /api/tokens`, `DELETE /api/tokens/:id`: API tokens with a scope, for Prometheus and
 * dashboards (`read`) or scripts (`admin`). A token is shown once, in the creation's answer; only its
 * SHA-256 is kept. Behind requireAuth; changes need admin rights (readOnlyTokens).
 */
export function tokenRoutes(deps: { auth: Auth; logger: Logger }): Hono<AppEnv> {
  const { auth, logger } = deps;
  const routes = new Hono<AppEnv>();

  routes.get('/tokens', (c) => c.json({ tokens: auth.listApiTokens() }));

  routes.post('/tokens', async (c) => {
    const { name, scope } = validate(createBody, await readJson(c));
    const { token, secret } = auth.createApiToken(name, scope);
    logger.info({ tokenId: token.id, scope }, 'API token created');
    c.header('Cache-Control', 'no-store');
    return c.json({ token, secret }, 201);
  });

  routes.delete('/tokens/:id', (c) => {
    const id = c.req.param('id');
    const outcome = id.length <= 64 ? auth.revokeApiToken(id) : 'unknown';
    if (outcome === 'unknown') throw new HttpError(404, 'no such API token');
    if (outcome === 'fixed')
      throw new HttpError(409, 'this token comes from HARVEST_SYNC_API_TOKEN: unset it and restart serve');
    logger.info({ tokenId: id }, 'API token revoked');
    return c.json({ revoked: true, id });
  });

  return routes;
}
