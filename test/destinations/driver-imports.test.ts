import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * Issue 13: each database engine is one folder behind one interface. A database driver is imported
 * only inside src/destinations/ (each engine's folder, and the SQLite scratch ledger of the Singer
 * and Airbyte connectors), with two exemptions named here with their reason:
 * - the control store's own drivers (src/control/sqlite-store.ts, postgres-store.ts): the control
 *   store is not a destination; it keeps pipelines and runs in SQLite or PostgreSQL through a small
 *   SqlDriver seam of its own, with migrations, and must not depend on what destinations can do;
 * - the workers' cluster (src/control/cluster/): its run queue, heartbeats and shared rate budget
 *   live in the PostgreSQL control store, beside pg-boss, not in any destination;
 * - the benchmarks (src/bench/): they measure drivers and other tools against each other directly.
 */

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DRIVERS = ['better-sqlite3', 'pg', 'mysql2', 'mysql2/promise'];
const EXEMPT: Readonly<Record<string, string>> = {
  'control/sqlite-store.ts': 'the control store is not a destination (its own SQLite driver)',
  'control/postgres-store.ts': 'the control store is not a destination (its own PostgreSQL driver)',
};
const EXEMPT_FOLDERS = ['destinations/', 'bench/', 'control/cluster/'];

/** Modules a file imports: static `import … from`, `export … from`, `import('…')` and `require('…')`. */
export function importedModules(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(
    /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\)\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g,
  ))
    found.push(match[1]);
  return found;
}

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .map((name) => name.split('\\').join('/'))
    .filter((name) => /\.tsx?$/.test(name));
}

describe('database drivers', () => {
  it('are read from import statements of every kind', () => {
    expect(
      importedModules(
        "import pg from 'pg';\nimport type { X } from \"mysql2/promise\";\nconst m = await import('better-sqlite3');\nimport 'side';\nconst d = createRequire(import.meta.url)('mysql2');\nrequire('pg');",
      ),
    ).toEqual(['pg', 'mysql2/promise', 'better-sqlite3', 'side', 'mysql2', 'pg']);
  });

  it('are imported only inside src/destinations/, the control store and the benchmarks', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const offenders = files
      .filter(
        (name) => !EXEMPT_FOLDERS.some((folder) => name.startsWith(folder)) && EXEMPT[name] === undefined,
      )
      .flatMap((name) =>
        importedModules(readFileSync(`${SRC}${name}`, 'utf8'))
          .filter((module) => DRIVERS.includes(module))
          .map((module) => `src/${name} imports ${module}`),
      );
    expect(offenders).toEqual([]);
  });

  it('exempts files that exist and still import a driver, so the list never goes stale', () => {
    for (const name of Object.keys(EXEMPT)) {
      const modules = importedModules(readFileSync(`${SRC}${name}`, 'utf8'));
      expect(
        modules.some((module) => DRIVERS.includes(module)),
        name,
      ).toBe(true);
    }
  });

  it('are used by no engine-kind branch outside src/destinations/ either', () => {
    const branches = sourceFiles()
      .filter((name) => !name.startsWith('destinations/') && !name.startsWith('bench/'))
      .filter((name) => !name.startsWith('control/') || !/store\.ts$/.test(name))
      .flatMap((name) =>
        readFileSync(`${SRC}${name}`, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `src/${name}:${i + 1}` }))
          .filter(({ line }) => /\bkind\s*[!=]==\s*'(sqlite|postgres|mysql)'/.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(branches).toEqual([]);
  });
});
