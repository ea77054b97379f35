import type { LineSink } from './message-destination.js';

/**
 * Message lines to a stream (stdout), strictly in order: each write resolves once the text is handed
 * to the OS, so a STATE line is out before the engine reads on. A target that goes away (EPIPE)
 * makes the next write fail, which stops the read.
 */
export class StreamSink implements LineSink {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  write(text: string): Promise<void> {
    const next = this.tail.then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.out.write(text, (error) => (error ? reject(error) : resolve()));
        }),
    );
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every line written so far is out. */
  flush(): Promise<void> {
    return this.tail;
  }
}

/**
 * SIGINT/SIGTERM stop a read after the batch being written (and its STATE) is out, so the last
 * STATE resumes exactly; a second signal exits at once. `onStop` reports the first.
 */
export function stopOnSignals(onStop: () => void): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    onStop();
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // A target that closed its end: nothing more can be delivered, and there is no one to tell.
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(1);
  };
  process.stdout.on('error', onError);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      process.stdout.off('error', onError);
    },
  };
}
