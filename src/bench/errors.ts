import { HarvestSyncError } from '../errors.js';

/** The bench could not run as asked (a bad flag, a child that failed, a simulator that did not start). */
export class BenchError extends HarvestSyncError {
  constructor(message: string) {
    super('BENCH_FAILED', message);
  }
}
