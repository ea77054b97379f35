import { Hono } from 'hono';
import { resolveDestinationUrl } from '../control/pipeline-runner.js';
import type { ControlStore } from '../control/types.js';
import { HttpError } from '../server/errors.js';
import { requireAuth } from '../server/middleware.js';
import type { AppEnv } from '../server/middleware.js';
import { inspectDestination } from './destination-inspect.js';
import type { DestinationReport } from './destination-inspect.js';

export interface DestinationRouteDeps {
  readonly store: ControlStore;
  /** Relative `sqlite:` destinations live here, as for the runner. */
  readonly dataDir: string;
  /** For tests: how a destination is read. Default: `inspectDestination`. */
  readonly inspect?: (url: string, objects: readonly string[]) => Promise<DestinationReport>;
}

/**
 * `GET /api/pipelines/:ref/destination`: what the pipeline's destination holds per object (rows,
 * deleted rows, cursor). The one thing the pipeline page needs that the pipelines API does not carry;
 * mounted under /api, so the app's requireAuth guards it like every other API route.
 */
export function destinationRoutes(deps: DestinationRouteDeps): Hono<AppEnv> {
  const inspect = deps.inspect ?? inspectDestination;
  const routes = new Hono<AppEnv>();
  // requireAuth here too, so the route stays guarded wherever it is mounted
  routes.get('/pipelines/:ref/destination', requireAuth, async (c) => {
    const ref = c.req.param('ref');
    const pipeline = ref.length <= 300 ? await deps.store.findPipeline(ref) : null;
    if (!pipeline) throw new HttpError(404, 'no such pipeline');
    const { destinationUrl } = await deps.store.pipelineSecrets(pipeline.id);
    const report = await inspect(resolveDestinationUrl(destinationUrl, deps.dataDir), pipeline.objects);
    return c.json({ destination: { ...report, description: pipeline.destination } });
  });
  return routes;
}
