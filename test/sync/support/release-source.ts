import { findObject } from '../../../src/catalog/objects.js';
import type { ObjectSpec } from '../../../src/catalog/types.js';
import { FakeHarvest } from './fake-harvest.js';

/**
 * The Harvest account test/fixtures/state/ was captured against (capture-release-state.ts): 200
 * time entries at the fake's fixed clock, entry 7 deleted after the first load.
 */
export function releaseSource(): FakeHarvest {
  const source = new FakeHarvest([findObject('time_entries') as ObjectSpec]);
  source.seed('time_entries', 200);
  return source;
}
