import { setFlagsFromString } from 'node:v8';

/*
 * Memory of a sync is a few pages of short-lived objects allocated over and over (a 2000-record
 * page is a 2–5 MB body, its decoded text and its parsed records). What the process holds beyond
 * them is V8's slack: garbage not collected yet. Two settings keep it small without a ceiling (a
 * hard --max-old-space-size could make a page of very long notes run the process out of memory):
 *
 * - NODE_FLAGS, given to node on its command line (the `harvest-sync` bin's shebang, and the bench's
 *   scenario processes): a young generation of 4 MB semi-spaces instead of 16, so a page's garbage
 *   is collected while it is still young.
 * - HEAP_GROWING_PERCENT, set at start-up (it is read at every collection): the old generation may
 *   grow to 2× what survived the last full collection, not V8's default of up to 4×.
 *
 * Measured on a 1M time-entry load into SQLite (docs/benchmarks.md): peak RSS 230–280 MB without
 * them; with both, 160–180 MB (8 MB semi-spaces: 185–215 MB), at most a few per cent slower.
 */

/** Node flags the `harvest-sync` command runs with (see the shebang of src/cli/main.ts). */
export const NODE_FLAGS = ['--max-semi-space-size=4'] as const;

export const HEAP_GROWING_PERCENT = 100;

/** Applies HEAP_GROWING_PERCENT unless the user passed their own (NODE_OPTIONS or a flag). */
export function boundHeapGrowth(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) =>
    arg.includes('--heap-growing-percent'),
  );
  if (!given) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
