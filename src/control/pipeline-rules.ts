import { placeDestination } from '../destinations/targets.js';
import type { DestinationScope } from '../destinations/engine.js';
import { userMessage } from '../errors.js';
import type { BaseUrlPolicy } from './base-url-policy.js';
import type { Pipeline, PipelineInput, PipelineUpdate } from './types.js';
import { PipelineValidationError } from './validation.js';

/*
 * Rules a pipeline must keep beyond the shape of its fields (validation.ts), shared by the API, the
 * UI (through the API) and the `pipelines` commands: where its stored token may be sent.
 */

export const TOKEN_AGAIN_MESSAGE =
  'changing the Harvest API URL sends the token somewhere new: enter the access token again';

/** Refuses a new pipeline whose base URL is not on the allow-list (400 / exit 2, field `baseUrl`). */
export function checkNewPipeline(input: Pick<PipelineInput, 'baseUrl'>, policy: BaseUrlPolicy): void {
  const problem = policy.problem(input.baseUrl);
  if (problem) throw new PipelineValidationError({ baseUrl: problem });
}

/**
 * Refuses a change that would send the stored token to another base URL: a new base URL needs the
 * token in the same change, and must be on the allow-list. The destination needs no such rule: its
 * URL is replaced whole, so a stored password never goes to a new host unless it is typed again.
 */
export function checkPipelineChange(current: Pipeline, update: PipelineUpdate, policy: BaseUrlPolicy): void {
  if (update.baseUrl === undefined || update.baseUrl === current.baseUrl) return;
  const fields: Record<string, string> = {};
  if (update.token === undefined) fields.token = TOKEN_AGAIN_MESSAGE;
  const problem = policy.problem(update.baseUrl);
  if (problem) fields.baseUrl = problem;
  if (Object.keys(fields).length > 0) throw new PipelineValidationError(fields);
}

/**
 * Refuses a destination outside where saved pipelines may write (`--sqlite-root`, the control
 * store's own files): 400 / exit 2, field `destination`. The runner checks again before each run.
 */
export function checkDestinationPlace(destination: string | undefined, scope: DestinationScope): void {
  if (destination === undefined) return;
  try {
    placeDestination(destination, scope);
  } catch (error) {
    throw new PipelineValidationError({ destination: userMessage(error) });
  }
}
