import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { Clock } from '../clock.js';
import type { ControlStore, Pipeline, Run } from '../control/types.js';
import type { Auth } from './auth.js';
import { pipelineRoutes } from './pipeline-routes.js';
import type { ConnectionTester, DestinationTester } from './pipeline-routes.js';
import { HttpError, errorBody } from './errors.js';
import { errorResponse } from './http.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { authenticate, csrfProtection, requireAuth } from './middleware.js';
import type { AppEnv } from './middleware.js';
import { sessionRoutes } from './session-routes.js';

/** What the API needs from the scheduler: a small seam, so tests and the UI can drive it. */
export interface AppScheduler {
  /** Whether the scheduling loop is on (reported by /api/health). */
  isRunning(): boolean;
  /** Starts a manual run of the pipeline and resolves with its record once started. */
  runNow(pipelineId: number): Promise<Run>;
  /** When the pipeline's next scheduled run is due (ISO 8601), or null when none is. */
  nextRunAt(pipeline: Pipeline, lastRun: Run | null): string | null;
  /** Looks for due pipelines now (after a create, update or resume) rather than at the next tick. */
  wake?(): void;
}

export interface AppDeps {
  readonly store: ControlStore;
  readonly scheduler: AppScheduler;
  readonly auth: Auth;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly testConnection: ConnectionTester;
  readonly testDestination: DestinationTester;
  readonly version?: string;
  /** Key that login rate limiting counts per; default: the socket's remote address. */
  readonly clientKey?: (c: Context) => string;
  /** Largest request body accepted, in bytes. Default 64 KiB: a pipeline is a few hundred bytes. */
  readonly maxBodyBytes?: number;
}

/** Paths reachable without credentials. Everything else under /api and /metrics needs them. */
export const PUBLIC_ROUTES: ReadonlyArray<{ readonly method: string; readonly path: string }> = [
  { method: 'GET', path: '/api/health' },
  { method: 'POST', path: '/api/login' },
];

const isPublic = (c: Context) =>
  PUBLIC_ROUTES.some((r) => r.method === c.req.method && r.path === c.req.path);

/**
 * The HTTP app: JSON API under /api, Prometheus metrics at /metrics. Authentication and CSRF
 * middleware run on every path (so UI routes added later with `app.route('/', ui)` see
 * `c.get('principal')` and are CSRF-protected); /api and /metrics additionally require credentials.
 * The UI decides for itself what an unauthenticated page does (e.g. redirect to its login page).
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { auth, logger, metrics } = deps;
  const app = new Hono<AppEnv>();

  app.onError((error, c) => errorResponse(error, c, logger));
  app.notFound((c) => c.json(errorBody(`no route ${c.req.method} ${c.req.path}`), 404));

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  app.use('*', async (c, next) => {
    const started = deps.clock.now();
    await next();
    // method, path and status only: headers and bodies may carry credentials
    logger.debug(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: deps.clock.now() - started },
      'request',
    );
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: deps.maxBodyBytes ?? 64 * 1024,
      onError: () => {
        throw new HttpError(413, `request body too large (at most ${deps.maxBodyBytes ?? 64 * 1024} bytes)`);
      },
    }),
  );
  app.use('*', authenticate(auth));
  app.use('/api/*', async (c, next) => {
    c.header('Cache-Control', 'no-store');
    if (isPublic(c)) return next();
    return requireAuth(c, next);
  });
  app.use('/metrics', requireAuth);
  // after requireAuth, so a request without credentials gets 401 rather than a CSRF 403
  app.use('*', csrfProtection());

  app.get('/api/health', (c) =>
    c.json({
      status: 'ok',
      version: deps.version ?? null,
      scheduler: { running: deps.scheduler.isRunning() },
    }),
  );
  app.route('/api', sessionRoutes({ auth, logger, clientKey: deps.clientKey }));
  app.route('/api', pipelineRoutes(deps));
  app.get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType }),
  );

  return app;
}
