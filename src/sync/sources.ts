import type { ObjectSpec } from '../catalog/types.js';
import type { HarvestSource } from '../harvest/types.js';
import { PerParentSource } from './per-parent.js';
import { ReportSource, type ReportContext } from './reports.js';

export { ownedByParents } from './per-parent.js';

/**
 * The source an object is read through: the run's own, or a view of it for an object listed per
 * parent (sync/per-parent.ts) or a report (sync/reports.ts). Either way the engine reads pages.
 */
export function sourceFor(source: HarvestSource, spec: ObjectSpec, context: ReportContext): HarvestSource {
  if (spec.parent) return new PerParentSource(source, spec);
  if (spec.report) return new ReportSource(source, spec, context);
  return source;
}
