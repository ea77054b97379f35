import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { Clock } from '../clock.js';
import { BaseUrlPolicy } from '../control/base-url-policy.js';
import type { ControlStore, Pipeline, Run } from '../control/types.js';
import type { DestinationScope } from '../destinations/index.js';
import type { Auth } from './auth.js';
import { destinationRoutes } from './destination-routes.js';
import { pipelineRoutes } from './pipeline-routes.js';
import { runEventRoutes } from './run-events.js';
import { RunWatch } from './run-watch.js';
import type { ConnectionTester, DestinationTester } from './pipeline-routes.js';
import { HttpError, errorBody } from './errors.js';
import { errorResponse } from './http.js';
import type { Logger } from './logger.js';
import type { WorkerInfo } from '../control/cluster/registry.js';
import type { ServerMetrics } from './metrics.js';
import { DEFAULT_ALLOWED_HOSTS, hostCheck } from './hosts.js';
import { authenticate, csrfProtection, readOnlyTokens, requireAuth } from './middleware.js';
import type { AppEnv } from './middleware.js';
import { sessionRoutes } from './session-routes.js';
import { tokenRoutes } from './token-routes.js';

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
  /** Where saved pipelines' destinations may be (`--sqlite-root`): checked on save, used to read them. */
  readonly destinations: DestinationScope;
  readonly version?: string;
  /** Key that login rate limiting counts per; default: the socket's remote address. */
  readonly clientKey?: (c: Context) => string;
  /** Largest request body accepted, in bytes. Default 64 KiB: a pipeline is a few hundred bytes. */
  readonly maxBodyBytes?: number;
  /** Where saved pipelines may send their token (`--allow-base-url`). Default: Harvest's own API only. */
  readonly baseUrls?: BaseUrlPolicy;
  /** Names answered for in `Host` (`--allowed-host`); others get 421. Default: localhost, 127.0.0.1, [::1]. */
  readonly allowedHosts?: readonly string[];
  /** The workers sharing a PostgreSQL control store (GET /api/workers); none with SQLite. */
  readonly workers?: () => Promise<readonly WorkerInfo[]>;
  /**
   * The watch of runs behind the event streams (GET /api/runs/:id/events, /api/events). Given by
   * `serve`, which nudges it on its runner's events and closes it on shutdown; default: one on `store`.
   */
  readonly runWatch?: RunWatch;
  /** Comment lines on a quiet event stream, this often (default 15 s). */
  readonly heartbeatMs?: number;
}

/** Paths reachable without credentials. Everything else under /api and /metrics needs them. */
export const PUBLIC_ROUTES: ReadonlyArray<{ readonly method: string; readonly path: string }> = [
  { method: 'GET', path: '/api/health' },
  { method: 'POST', path: '/api/login' },
];

/** HEAD is GET without the body: public wherever GET is. */
const isPublic = (c: Context) => {
  const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
  return PUBLIC_ROUTES.some((r) => r.method === method && r.path === c.req.path);
};

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
  const baseUrls = deps.baseUrls ?? BaseUrlPolicy.harvestOnly();

  // first of all: a page of another site reaching us through DNS rebinding gets nothing, not even health
  app.use('*', hostCheck(deps.allowedHosts ?? DEFAULT_ALLOWED_HOSTS));

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
  // after requireAuth, so a request without credentials gets 401 rather than a 403
  app.use('*', readOnlyTokens);
  app.use('*', csrfProtection());

  app.get('/api/health', (c) =>
    c.json({
      status: 'ok',
      version: deps.version ?? null,
      scheduler: { running: deps.scheduler.isRunning() },
    }),
  );
  app.route('/api', sessionRoutes({ auth, logger, clientKey: deps.clientKey }));
  app.route('/api', pipelineRoutes({ ...deps, baseUrls }));
  app.route(
    '/api',
    runEventRoutes({
      store: deps.store,
      runWatch: deps.runWatch ?? new RunWatch({ store: deps.store }),
      ...(deps.heartbeatMs === undefined ? {} : { heartbeatMs: deps.heartbeatMs }),
    }),
  );
  app.route('/api', destinationRoutes(deps));
  app.route('/api', tokenRoutes({ auth, logger }));
  app.get('/api/workers', async (c) =>
    c.json({
      // with SQLite, serve itself runs every pipeline: there is no worker to list
      mode: deps.workers ? 'workers' : 'single-process',
      workers: deps.workers ? await deps.workers() : [],
    }),
  );
  app.get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType }),
  );

  return app;
}
