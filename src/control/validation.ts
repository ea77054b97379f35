import { z } from 'zod';
import { DEFAULT_OBJECT_NAMES, OBJECTS, OBJECT_NAMES } from '../catalog/objects.js';
import { DESTINATION_USAGE, ENGINE_LABELS, parseDestinationUrl } from '../destinations/targets.js';
import { ConfigError, userMessage } from '../errors.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';
import { TOKEN_MAX_LENGTH } from '../harvest/token.js';
import { FREQUENCY_HOURS, FULL_REFRESH_HOURS, PATH_MAX_BYTES, URL_MAX_LENGTH } from '../limits.js';
import type { Range } from '../limits.js';
import { accountIdField, baseUrlField, sinceField, tokenField, wholeNumberField } from '../schema-fields.js';
import type { PipelineInput, PipelineUpdate } from './types.js';

/*
 * The one definition of a valid pipeline, used by the CLI (`pipelines create|update`), the HTTP API
 * and the UI. Inputs come as JSON (numbers, arrays) or as command-line strings ("6", "clients,users"),
 * so each field accepts both and normalises. Every message names the field and what is allowed.
 */

export const NAME_MAX_LENGTH = 255;
export { TOKEN_MAX_LENGTH, FREQUENCY_HOURS, FULL_REFRESH_HOURS, URL_MAX_LENGTH };
/** PATH_MAX on Linux and `sqlite:`: a longer destination could be stored but never created. */
const DESTINATION_MAX_LENGTH = PATH_MAX_BYTES + 'sqlite:'.length;

const required =
  (field: string, message: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined || issue.input === null ? `${field} is required` : message;

const hours = (field: string, range: Range) =>
  wholeNumberField(field, range, { unit: 'hours', missing: `${field} is required` });

const nameMessage = `name must be 1 to ${NAME_MAX_LENGTH} characters`;
const name = z
  .string({ error: required('name', nameMessage) })
  .trim()
  .min(1, nameMessage)
  .max(NAME_MAX_LENGTH, nameMessage)
  // A name is shown on one line in tables, logs and the UI.
  .refine((v) => !/\p{Cc}/u.test(v), 'name must not contain control characters or line breaks');

const token = tokenField('token', 'token is required');
const accountId = accountIdField('accountId', 'accountId is required');

const destinationMessage = `destination must be a ${ENGINE_LABELS} URL ${DESTINATION_USAGE}`;
const destination = z
  .string({ error: required('destination', destinationMessage) })
  .trim()
  .superRefine((v, ctx) => {
    const problem = destinationProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Null when `url` is a destination URL a pipeline may use; else a one-line reason. The rules are the
 * engines' (parseDestinationUrl with the stricter rules of saved URLs); where the destination may be
 * (`--sqlite-root`) is checked where the scope is known (pipeline-rules.ts, the runner).
 */
export function destinationProblem(url: string): string | null {
  if (url.length > DESTINATION_MAX_LENGTH)
    return `destination: too long (at most ${DESTINATION_MAX_LENGTH} characters)`;
  try {
    parseDestinationUrl(url, { saved: true });
    return null;
  } catch (error) {
    return `destination: ${userMessage(error)}`;
  }
}

const objectsMessage = `objects must be a list of catalog objects (${OBJECT_NAMES.join(', ')})`;
const objects = z
  .union([z.array(z.string(), { error: objectsMessage }), z.string()], { error: objectsMessage })
  .transform((v, ctx) => {
    const names = (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !OBJECT_NAMES.includes(n));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `objects: unknown object ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${OBJECT_NAMES.join(', ')})`,
      });
      return z.NEVER;
    }
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'objects must name at least one object' });
      return z.NEVER;
    }
    // Catalog order, no duplicates: the engine and the run statistics follow it.
    return OBJECTS.map((o) => o.name).filter((n) => names.includes(n));
  });

const since = sinceField('since').nullable();

const enabled = z.boolean({ error: 'enabled must be true or false' });

const fields = {
  name,
  token,
  accountId,
  destination,
  objects,
  frequencyHours: hours('frequency', FREQUENCY_HOURS),
  since,
  fullRefreshHours: hours('fullRefreshHours', FULL_REFRESH_HOURS),
  baseUrl: baseUrlField('baseUrl'),
  enabled,
};

/** A new pipeline. Unknown keys are refused; defaults: all objects, every hour, daily full refresh. */
export const pipelineCreateSchema = z.strictObject({
  name: fields.name,
  token: fields.token,
  accountId: fields.accountId,
  destination: fields.destination,
  objects: fields.objects.default([...DEFAULT_OBJECT_NAMES]),
  frequencyHours: fields.frequencyHours.default(FREQUENCY_HOURS.default),
  since: fields.since.default(null),
  fullRefreshHours: fields.fullRefreshHours.default(FULL_REFRESH_HOURS.default),
  baseUrl: fields.baseUrl.default(DEFAULT_BASE_URL),
  enabled: fields.enabled.default(true),
}) satisfies z.ZodType<PipelineInput, unknown>;

/** A change to a pipeline: any subset of the create fields, no defaults; `since: null` clears it. */
export const pipelineUpdateSchema = z
  .strictObject({
    name: fields.name.optional(),
    token: fields.token.optional(),
    accountId: fields.accountId.optional(),
    destination: fields.destination.optional(),
    objects: fields.objects.optional(),
    frequencyHours: fields.frequencyHours.optional(),
    since: fields.since.optional(),
    fullRefreshHours: fields.fullRefreshHours.optional(),
    baseUrl: fields.baseUrl.optional(),
    enabled: fields.enabled.optional(),
  })
  .transform((update) => {
    // zod leaves keys given as undefined in place; a missing field must mean "unchanged".
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(update)) if (value !== undefined) out[key] = value;
    return out as PipelineUpdate;
  }) satisfies z.ZodType<PipelineUpdate, unknown>;

/** `{ field: message }` for forms and API responses; the first issue per field wins. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = issue.path.length > 0 ? String(issue.path[0]) : '_';
    // the body itself is of the wrong kind ([], "x", 5): say what it must be, not zod's wording
    if (issue.path.length === 0 && issue.code === 'invalid_type') {
      out[field] ??= 'the pipeline must be a JSON object of its fields (name, token, accountId, …)';
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out[key] ??= `unknown field "${key}"`;
      continue;
    }
    out[field] ??= issue.message;
  }
  return out;
}

/** All problems on one line, for the CLI and logs. */
export function errorLine(error: z.ZodError): string {
  return Object.values(fieldErrors(error)).join('; ');
}

/** Per-field messages on one line, `field: message; …`, for errors whose fields are kept apart too. */
export function fieldsLine(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields)
    .map(([field, message]) => `${field}: ${message}`)
    .join('; ');
}

/**
 * Bad pipeline input: a ConfigError (exit code 2, HTTP 400) that also carries the per-field messages,
 * from the schema or from a rule beyond it (pipeline-rules.ts: `{ field: message }`).
 */
export class PipelineValidationError extends ConfigError {
  readonly fields: Readonly<Record<string, string>>;
  constructor(error: z.ZodError | Readonly<Record<string, string>>) {
    const zod = error instanceof z.ZodError;
    super(zod ? errorLine(error) : fieldsLine(error));
    this.fields = zod ? fieldErrors(error) : { ...error };
  }
}

/** Validates a new pipeline; throws PipelineValidationError. */
export function parsePipelineCreate(input: unknown): PipelineInput {
  const parsed = pipelineCreateSchema.safeParse(input);
  if (!parsed.success) throw new PipelineValidationError(parsed.error);
  return parsed.data;
}

/** Validates a pipeline change; throws PipelineValidationError. */
export function parsePipelineUpdate(input: unknown): PipelineUpdate {
  const parsed = pipelineUpdateSchema.safeParse(input);
  if (!parsed.success) throw new PipelineValidationError(parsed.error);
  return parsed.data;
}
