import { Hono } from 'hono';
import { z } from 'zod';
import { OBJECTS } from '../catalog/objects.js';
import type { BaseUrlPolicy } from '../control/base-url-policy.js';
import { checkDestinationPlace, checkNewPipeline, checkPipelineChange } from '../control/pipeline-rules.js';
import { parsePipelineCreate, parsePipelineUpdate, pipelineCreateSchema } from '../control/validation.js';
import type { ConnectionTestResult } from '../control/connection-test.js';
import type { ControlStore, Pipeline } from '../control/types.js';
import type { DestinationScope } from '../destinations/index.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';
import { FREQUENCY_HOURS, FULL_REFRESH_HOURS } from '../limits.js';
import type { AppScheduler } from './app.js';
import type { DestinationTestResult } from './destination-test.js';
import { HttpError } from './errors.js';
import { readJson, validate } from './http.js';
import type { Logger } from './logger.js';
import type { AppEnv } from './middleware.js';
import { presentPipeline, presentRun } from './present.js';

/** Input of a connection test: the pipeline fields it needs, validated by the pipeline schema. */
export const connectionTestSchema = pipelineCreateSchema.pick({
  token: true,
  accountId: true,
  baseUrl: true,
  objects: true,
});
export type ConnectionTestInput = z.output<typeof connectionTestSchema>;

export type ConnectionTester = (input: ConnectionTestInput) => Promise<ConnectionTestResult>;
export type DestinationTester = (url: string) => Promise<DestinationTestResult>;

const destinationTestSchema = pipelineCreateSchema.pick({ destination: true });
const runsQuery = z.strictObject({
  limit: z.coerce.number().int('limit must be a whole number').min(1).max(1000).optional(),
});
/** A run's id in a path: a whole positive number (shared by the run routes). */
export const numericId = z.coerce
  .number({ error: 'the id must be a whole number' })
  .int('the id must be a whole number')
  .positive('the id must be a whole number')
  .max(Number.MAX_SAFE_INTEGER);

interface RouteDeps {
  readonly store: ControlStore;
  readonly scheduler: AppScheduler;
  readonly logger: Logger;
  readonly testConnection: ConnectionTester;
  readonly testDestination: DestinationTester;
  readonly baseUrls: BaseUrlPolicy;
  readonly destinations: DestinationScope;
}

/** Pipelines, runs, connection and destination tests, catalog: mounted under /api, behind requireAuth. */
export function pipelineRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { store, scheduler, logger } = deps;
  const routes = new Hono<AppEnv>();

  const find = async (ref: string): Promise<Pipeline> => {
    // ids and names are both accepted; a ref too long to be either is not looked up at all
    const pipeline = ref.length <= 300 ? await store.findPipeline(ref) : null;
    if (!pipeline) throw new HttpError(404, 'no such pipeline');
    return pipeline;
  };
  const view = async (pipeline: Pipeline) => {
    const lastRun = await store.lastRun(pipeline.id);
    return presentPipeline(pipeline, lastRun, scheduler.nextRunAt(pipeline, lastRun));
  };

  routes.get('/pipelines', async (c) => {
    const pipelines = await store.listPipelines();
    return c.json({ pipelines: await Promise.all(pipelines.map(view)) });
  });

  routes.post('/pipelines', async (c) => {
    const input = parsePipelineCreate(await readJson(c));
    checkNewPipeline(input, deps.baseUrls);
    checkDestinationPlace(input.destination, deps.destinations);
    const pipeline = await store.createPipeline(input);
    logger.info({ pipeline: pipeline.name, id: pipeline.id }, 'pipeline created');
    scheduler.wake?.();
    return c.json({ pipeline: await view(pipeline) }, 201);
  });

  routes.get('/pipelines/:ref', async (c) =>
    c.json({ pipeline: await view(await find(c.req.param('ref'))) }),
  );

  routes.patch('/pipelines/:ref', async (c) => {
    const pipeline = await find(c.req.param('ref'));
    const update = parsePipelineUpdate(await readJson(c));
    checkPipelineChange(pipeline, update, deps.baseUrls);
    checkDestinationPlace(update.destination, deps.destinations);
    const updated = await store.updatePipeline(pipeline.id, update);
    logger.info({ pipeline: updated.name, id: updated.id, fields: Object.keys(update) }, 'pipeline updated');
    scheduler.wake?.();
    return c.json({ pipeline: await view(updated) });
  });

  routes.delete('/pipelines/:ref', async (c) => {
    const pipeline = await find(c.req.param('ref'));
    if ((await store.lastRun(pipeline.id))?.status === 'running') {
      throw new HttpError(
        409,
        'the pipeline is running: pause it and wait for the run to end before deleting it',
      );
    }
    await store.deletePipeline(pipeline.id);
    logger.info({ pipeline: pipeline.name, id: pipeline.id }, 'pipeline deleted');
    return c.json({ deleted: true, id: pipeline.id });
  });

  for (const [action, enabled] of [
    ['pause', false],
    ['resume', true],
  ] as const) {
    routes.post(`/pipelines/:ref/${action}`, async (c) => {
      const pipeline = await find(c.req.param('ref'));
      const updated =
        pipeline.enabled === enabled ? pipeline : await store.updatePipeline(pipeline.id, { enabled });
      logger.info({ pipeline: pipeline.name, id: pipeline.id }, `pipeline ${action}d`);
      if (enabled) scheduler.wake?.();
      return c.json({ pipeline: await view(updated) });
    });
  }

  routes.post('/pipelines/:ref/run', async (c) => {
    const pipeline = await find(c.req.param('ref'));
    const run = await scheduler.runNow(pipeline.id);
    logger.info({ pipeline: pipeline.name, id: pipeline.id, run: run.id }, 'manual run started');
    return c.json({ run: presentRun(run, pipeline.name) }, 202);
  });

  routes.get('/pipelines/:ref/runs', async (c) => {
    const pipeline = await find(c.req.param('ref'));
    const { limit } = validate(runsQuery, c.req.query());
    const runs = await store.listRuns({ pipelineId: pipeline.id, limit: limit ?? 20 });
    return c.json({ runs: runs.map((run) => presentRun(run, pipeline.name)) });
  });

  routes.get('/runs/:id', async (c) => {
    const parsed = numericId.safeParse(c.req.param('id'));
    const run = parsed.success ? await store.getRun(parsed.data) : null;
    if (!run) throw new HttpError(404, 'no such run');
    const pipeline = await store.getPipeline(run.pipelineId);
    return c.json({ run: presentRun(run, pipeline?.name ?? null) });
  });

  routes.post('/connection-test', async (c) => {
    const input = validate(connectionTestSchema, await readJson(c));
    // a token typed here goes only where a saved pipeline could send it (and the daemon probes nothing else)
    checkNewPipeline(input, deps.baseUrls);
    return c.json(await deps.testConnection(input));
  });

  routes.post('/destination-test', async (c) => {
    const { destination } = validate(destinationTestSchema, await readJson(c));
    return c.json(await deps.testDestination(destination));
  });

  routes.get('/catalog', (c) =>
    c.json({
      // the UI's default for a new pipeline's Harvest API URL: defined once, here on the server
      defaultBaseUrl: DEFAULT_BASE_URL,
      // the UI's number fields take their bounds from here, the same the API validates with
      limits: { frequencyHours: FREQUENCY_HOURS, fullRefreshHours: FULL_REFRESH_HOURS },
      objects: OBJECTS.map((o) => ({
        name: o.name,
        description: o.description,
        access: o.access,
        incremental: o.incremental,
        group: o.group,
        report: o.report !== undefined,
        inDefaultSet: o.report === undefined,
        childTables: o.children.map((child) => child.name),
      })),
    }),
  );

  return routes;
}
