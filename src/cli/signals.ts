import { EXIT } from './exit.js';

/**
 * Resolves with the first SIGTERM or SIGINT; listened for from the call on, so a signal during
 * startup still ends in a clean shutdown. A second signal while shutting down means "now".
 */
export function stopRequested(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (name: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(EXIT.failed));
      process.once('SIGINT', () => process.exit(EXIT.failed));
      resolve(name);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
