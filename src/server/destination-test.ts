import { destinationProblem } from '../control/validation.js';
import { redactUrl, testDestination as testIn } from '../destinations/targets.js';
import type { DestinationScope, DestinationTestResult } from '../destinations/index.js';

export type { DestinationTestResult } from '../destinations/index.js';

/**
 * Whether a pipeline could write to `url`: first the rules of a saved pipeline's URL, then the
 * engine's own test in `scope` (see testDestination in src/destinations/). Never throws.
 */
export async function testDestination(url: string, scope: DestinationScope): Promise<DestinationTestResult> {
  const problem = destinationProblem(url);
  if (problem) return { ok: false, kind: null, destination: redactUrl(url), message: problem };
  return testIn(url, scope);
}
