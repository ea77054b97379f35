import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import type { ZodType } from 'zod';
import { ConfigError, DestinationBusyError, HarvestSyncError, userMessage } from '../errors.js';
import {
  PipelineExistsError,
  PipelineNotFoundError,
  RunInProgressError,
  RunNotFoundError,
} from '../control/store.js';
import { PipelineValidationError, fieldsLine } from '../control/validation.js';
import { HttpError, errorBody } from './errors.js';
import type { FieldErrors } from './errors.js';
import type { Logger } from './logger.js';

/** Reads a JSON request body; anything else is refused before it reaches validation. */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, 'the request body must be JSON (Content-Type: application/json)');
  try {
    return await c.req.json();
  } catch (error) {
    if (error instanceof HTTPException) throw error;
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

/** Zod issues as `{ "a.b": "message" }`; the first issue of a path wins. */
export function zodFields(error: ZodError): FieldErrors {
  const fields: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.length === 0 ? '(body)' : issue.path.map(String).join('.');
    fields[key] ??= issue.message;
  }
  return fields;
}

/** Parses input with a schema, turning failures into a 400 with per-field messages. */
export function validate<T>(schema: ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const fields = zodFields(parsed.error);
    throw new HttpError(400, fieldsLine(fields), { fields });
  }
  return parsed.data;
}

const STATUS_MESSAGES: Record<number, string> = {
  400: 'bad request',
  401: 'authentication required',
  403: 'forbidden: cross-origin request refused',
  404: 'not found',
  413: 'request body too large',
  415: 'unsupported content type',
};

/**
 * Every error as `{ "error": { "message", "fields"? } }` with the right status, never a stack trace:
 * unexpected errors are logged (message only) and answered 500.
 */
export function errorResponse(error: unknown, c: Context, logger: Logger): Response {
  if (error instanceof HttpError) {
    const headers: Record<string, string> = {};
    if (error.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="harvest-sync"';
    return c.json(errorBody(error.message, error.fields), error.status, headers);
  }
  if (error instanceof HTTPException) {
    const res = error.getResponse();
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return res;
    const status = error.status as ContentfulStatusCode;
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== 'content-type' && name !== 'content-length') headers[name] = value;
    });
    return c.json(errorBody(STATUS_MESSAGES[status] ?? 'request refused'), status, headers);
  }
  if (error instanceof ZodError) {
    const fields = zodFields(error);
    return c.json(errorBody(fieldsLine(fields), fields), 400);
  }
  if (error instanceof PipelineValidationError)
    return c.json(errorBody(error.message, { ...error.fields }), 400);
  if (error instanceof PipelineNotFoundError || error instanceof RunNotFoundError)
    return c.json(errorBody(error.message), 404);
  if (
    error instanceof PipelineExistsError ||
    error instanceof RunInProgressError ||
    error instanceof DestinationBusyError
  )
    return c.json(errorBody(error.message), 409);
  if (error instanceof ConfigError) return c.json(errorBody(error.message), 400);
  if (error instanceof HarvestSyncError && error.code === 'SCHEDULER_STOPPING') {
    return c.json(errorBody(error.message), 503);
  }
  if (error instanceof HarvestSyncError) {
    logger.warn({ code: error.code, error: error.message, path: c.req.path }, 'request failed');
    return c.json(errorBody(error.message), error.retryable ? 503 : 422);
  }
  logger.error({ error: userMessage(error), path: c.req.path }, 'unexpected error while answering a request');
  return c.json(errorBody('internal error; see the server log'), 500);
}
