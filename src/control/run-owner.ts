import { hostname } from 'node:os';
import type { ControlStore } from './types.js';

/*
 * A run row says which process runs it (`host#pid`). A process that dies (SIGKILL, power loss)
 * leaves its run `running`, and the one-running-run rule would then block the pipeline forever; with
 * the owner recorded, a later process on the same host can see that the pid is gone and mark the run
 * interrupted, while a run of a live process (a `pipelines run` beside `serve`) is left alone.
 * Runs owned by another host cannot be checked from here and are left to that host.
 */

/** This process, as recorded in the runs it starts. */
export function currentOwner(): string {
  return `${hostname()}#${process.pid}`;
}

/** True when `owner` names a process on this host that no longer exists, or no owner was recorded. */
export function ownerIsGone(owner: string | null): boolean {
  if (owner === null) return true;
  const at = owner.lastIndexOf('#');
  const host = owner.slice(0, at);
  const pid = Number(owner.slice(at + 1));
  if (at < 0 || host !== hostname() || !Number.isSafeInteger(pid)) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else: alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Marks `interrupted` the running runs (of one pipeline, or all) whose process is gone; the next run
 * resumes from what they committed. Returns the ids marked.
 */
export async function recoverStaleRuns(
  store: ControlStore,
  at: string,
  pipelineId?: number,
): Promise<number[]> {
  const running = await store.listRuns({ status: 'running', pipelineId, limit: 1000 });
  const marked: number[] = [];
  for (const run of running) {
    if (!ownerIsGone(run.owner)) continue;
    const message = `interrupted: the process running it${run.owner ? ` (${run.owner})` : ''} stopped before it finished`;
    if (await store.interruptRun(run.id, message, at)) marked.push(run.id);
  }
  return marked;
}
