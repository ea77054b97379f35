import { HarvestSyncError } from '../errors.js';

/** A misuse of the simulator's change API (unknown object or id, bad option): one line, for the caller. */
export class SimulatorError extends HarvestSyncError {
  constructor(message: string) {
    super('SIMULATOR_INVALID', message);
  }
}
