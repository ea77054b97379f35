import type { Clock } from '../clock.js';
import { nextRunAt } from '../control/scheduler.js';
import type { Scheduler } from '../control/scheduler.js';
import type { AppScheduler } from './app.js';

/** The control layer's Scheduler behind the app's seam, tracking whether its loop is on for /api/health. */
export class SchedulerSeam implements AppScheduler {
  #running = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
  ) {}

  async start(): Promise<void> {
    await this.scheduler.start();
    this.#running = true;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.scheduler.stop();
  }

  isRunning(): boolean {
    return this.#running;
  }

  runNow: AppScheduler['runNow'] = (pipelineId) => this.scheduler.runNow(pipelineId);

  nextRunAt: AppScheduler['nextRunAt'] = (pipeline, lastRun) => {
    // a pipeline running now is next due one period after this run's start
    const at = nextRunAt(pipeline, lastRun, this.clock.now());
    return at === null ? null : new Date(at).toISOString();
  };

  wake(): void {
    this.scheduler.wake();
  }
}
