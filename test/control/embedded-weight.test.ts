import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The embedded setup (SQLite control store, one process) must not get heavier for the scale-out:
 * pg-boss and the cluster code are loaded only by a dynamic import, when the control store is
 * PostgreSQL. This follows the static imports (not `import type`, not `import()`) from the program
 * `serve` loads once its flags are checked (src/cli/serve-run.ts).
 */

const SRC = resolve(import.meta.dirname, '../../src');
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the embedded setup stays as light as before', () => {
  it('loads neither pg, pg-boss nor the cluster code in serve without a PostgreSQL control store', () => {
    const { files, packages } = staticGraph(join(SRC, 'cli/serve-run.ts'));
    expect(files.has(join(SRC, 'control/scheduler.ts'))).toBe(true);
    // each control store loads its own driver when opened: not even pg is loaded up front now
    expect(packages.has('hono')).toBe(true);
    expect(packages.has('pg')).toBe(false);
    expect(packages.has('pg-boss')).toBe(false);
    expect([...files].filter((f) => f.includes('/control/cluster/'))).toEqual([]);
  });
});
