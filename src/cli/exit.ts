import { ConfigError, userMessage } from '../errors.js';

/** Exit codes: 0 success, 1 the job failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Runs a command's action, turning any error into one line on stderr and an exit code:
 * never a stack trace. Secrets are never part of our messages (see src/errors.ts).
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.ok;
    } catch (error) {
      process.stderr.write(`error: ${userMessage(error)}\n`);
      process.exitCode = error instanceof ConfigError ? EXIT.usage : EXIT.failed;
    }
  };
}
