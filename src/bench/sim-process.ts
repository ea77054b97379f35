import { REPORT_PREFIX } from './protocol.js';
import type { SimulatorAddress } from './protocol.js';
import { startSimulator } from '../simulator/index.js';

/*
 * A simulator in a process of its own, so it competes for the two cores as a real server's
 * network stack would and its memory is not counted as ours.
 * It prints its address on one line and stops when its stdin closes (the bench ended or died)
 * or on SIGTERM. Rate limiting starts off; the bench sets it through /_simulator/rate-limit.
 * Arguments: JSON {scale, seed, cachePages}.
 */

interface SimArgs {
  readonly scale: number;
  readonly seed?: number;
  /** Serve list pages pre-serialised after their first request (SimulatorOptions.cachePages). */
  readonly cachePages?: boolean;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as SimArgs;
  const sim = await startSimulator({
    scale: args.scale,
    seed: args.seed ?? 1,
    rateLimit: null,
    cachePages: args.cachePages === true,
  });
  const address: SimulatorAddress = { url: sim.url, adminToken: sim.adminToken, accountId: sim.accountId };
  process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(address)}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve).on('close', resolve).resume();
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
