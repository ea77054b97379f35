import type { Control } from '../open.js';
import { controlStorePool, splitControlStoreUrl } from '../postgres-store.js';
import { WorkerRegistry } from './registry.js';
import type { WorkerInfo } from './registry.js';

/** The workers of the control store, without joining the cluster (no queue, no heartbeat); none on SQLite. */
export async function listWorkers(control: Pick<Control, 'controlStoreUrl'>): Promise<WorkerInfo[]> {
  if (control.controlStoreUrl === null) return [];
  const { connectionString, schema } = splitControlStoreUrl(control.controlStoreUrl);
  const pool = controlStorePool(connectionString, schema, 1);
  try {
    return await new WorkerRegistry(pool).list();
  } finally {
    await pool.end().catch(() => undefined);
  }
}
