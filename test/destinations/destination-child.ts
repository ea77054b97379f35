/**
 * A run in a process of its own, for the tests that kill one with SIGKILL.
 * Usage: destination-child.ts FACTORY TARGET hold-lock|write-batches
 *   hold-lock: opens the destination, prints "open", then waits to be killed.
 *   write-batches: writes 500-row time-entry batches forever, printing "committed N" after each.
 */
import { findFactory } from './factories.js';
import { CHILD_BATCH_SIZE, state, timeEntriesTable, timeEntry, toRows } from './fixtures.js';

async function main(): Promise<void> {
  const [factoryName, target, mode] = process.argv.slice(2);
  const destination = findFactory(factoryName).attach(target);
  await destination.open();
  if (mode === 'hold-lock') {
    process.stdout.write('open\n');
    // The timer keeps the destination referenced: were it collected, its lock connection would be
    // closed by the garbage collector and the lock silently let go while this process still lives.
    setInterval(() => void destination.description, 60_000);
    return;
  }
  const columns = await destination.ensureTable(timeEntriesTable);
  for (let batch = 1; ; batch++) {
    const records = Array.from({ length: CHILD_BATCH_SIZE }, (_, i) =>
      timeEntry((batch - 1) * CHILD_BATCH_SIZE + i + 1),
    );
    await destination.writeBatch({
      table: 'time_entries',
      rows: toRows(destination, columns, records),
      children: [],
      state: state('time_entries', String(batch)),
    });
    process.stdout.write(`committed ${batch}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
