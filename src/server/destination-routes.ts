import { Hono } from 'hono';
import type { ControlStore } from '../control/types.js';
import type { DestinationScope } from '../destinations/index.js';
import { inspectDestination } from './destination-inspect.js';
import { HttpError } from './errors.js';
import { requireAuth } from './middleware.js';
import type { AppEnv } from './middleware.js';

export interface DestinationRouteDeps {
  readonly store: ControlStore;
  /** Where saved pipelines' destinations are (relative SQLite paths, `--sqlite-root`), as for the runner. */
  readonly destinations: DestinationScope;
}

/**
 * `GET /api/pipelines/:ref/destination`: what the pipeline's destination holds per object (rows,
 * deleted rows, cursor), for the pipeline page. Mounted under /api, behind requireAuth.
 */
export function destinationRoutes(deps: DestinationRouteDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  // requireAuth here too, so the route stays guarded wherever it is mounted
  routes.get('/pipelines/:ref/destination', requireAuth, async (c) => {
    const ref = c.req.param('ref');
    const pipeline = ref.length <= 300 ? await deps.store.findPipeline(ref) : null;
    if (!pipeline) throw new HttpError(404, 'no such pipeline');
    const { destinationUrl } = await deps.store.pipelineSecrets(pipeline.id);
    const report = await inspectDestination(destinationUrl, pipeline.objects, deps.destinations);
    return c.json({ destination: { ...report, description: pipeline.destination } });
  });
  return routes;
}
