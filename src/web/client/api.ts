import type { ConnectionTestResult } from '../../control/connection-test.js';
import type { DestinationTestResult } from '../../server/destination-test.js';
import type { PipelineView, presentRun } from '../../server/present.js';
import type { DestinationReport } from '../../server/destination-inspect.js';
import type { WorkerInfo as WorkerView } from '../../control/cluster/registry.js';

/*
 * The browser's side of the JSON API: the session cookie goes along by itself (same origin), the CSRF
 * token the middleware asks for on every change comes from the page's <meta name="csrf-token">.
 */

export type { ConnectionTestResult, DestinationTestResult, DestinationReport, PipelineView, WorkerView };
export type RunView = ReturnType<typeof presentRun>;
export interface CatalogObject {
  readonly name: string;
  readonly description: string;
  readonly access: string;
  readonly incremental: boolean;
  /** core, billing, rates or reports: the heading it is shown under. */
  readonly group: string;
  readonly report: boolean;
  /** Selected for a new pipeline (every object but the reports). */
  readonly inDefaultSet: boolean;
  readonly childTables: readonly string[];
}

/** A refused request: the API's one-line message, and per-field messages when the input was bad. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'cannot reach the harvest-sync server; is it running?');
  }
  const data = (await response.json().catch(() => null)) as {
    error?: { message?: string; fields?: Record<string, string> };
  } | null;
  if (!response.ok) {
    if (response.status === 401 && path !== '/api/login') {
      // the session ended (expired, logged out elsewhere, password changed): log in again, then come back
      location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    }
    throw new ApiError(
      response.status,
      data?.error?.message ?? `the server answered ${response.status}`,
      data?.error?.fields ?? {},
    );
  }
  return data as T;
}

export const getPipelines = () => api<{ pipelines: PipelineView[] }>('GET', '/api/pipelines');
export const getPipeline = (ref: string) =>
  api<{ pipeline: PipelineView }>('GET', `/api/pipelines/${encodeURIComponent(ref)}`);
export const getRuns = (ref: string, limit: number) =>
  api<{ runs: RunView[] }>('GET', `/api/pipelines/${encodeURIComponent(ref)}/runs?limit=${limit}`);
export const getWorkers = () =>
  api<{ mode: 'workers' | 'single-process'; workers: WorkerView[] }>('GET', '/api/workers');
export const getRun = (id: string) => api<{ run: RunView }>('GET', `/api/runs/${encodeURIComponent(id)}`);
/** A setting's bounds and default, as the API validates it (src/limits.ts). */
export interface Limit {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}
export interface CatalogLimits {
  readonly frequencyHours: Limit;
  readonly fullRefreshHours: Limit;
}
export const getCatalog = () =>
  api<{ objects: CatalogObject[]; defaultBaseUrl: string; limits: CatalogLimits }>('GET', '/api/catalog');
export const getDestination = (ref: string) =>
  api<{ destination: DestinationReport & { description: string } }>(
    'GET',
    `/api/pipelines/${encodeURIComponent(ref)}/destination`,
  );
