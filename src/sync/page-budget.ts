import { InterruptedError } from '../errors.js';

/**
 * Counts pages held in memory (fetched, not yet written) across every object of a run, so memory
 * stays bounded by a few pages whatever the concurrency. A slot is taken before a page is requested
 * and given back once that page is written or dropped.
 */
export class PageBudget {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly slots: number) {
    this.free = slots;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new InterruptedError());
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.release();
        });
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new InterruptedError());
      };
      if (this.free > 0) {
        this.free--;
        grant();
      } else {
        this.waiting.push(grant);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
