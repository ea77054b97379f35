import { HarvestSyncError } from '../errors.js';

/**
 * Harvest answered, but with something the engine cannot store safely (a record without an id) or
 * cannot follow (pagination that loops). Retrying the same run would meet the same data.
 */
export class SyncDataError extends HarvestSyncError {
  constructor(message: string) {
    super('SYNC_BAD_DATA', message);
  }
}
