import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The dependency directions README.md's Architecture section draws, checked on the imports of every
 * file in src/, and the claims of CONTRIBUTING.md that a file can check (the files it names exist).
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');

interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The area a file belongs to: its folder under src/ (web/client apart), or the file's own name. */
function area(path: string): string {
  const parts = relative(SRC, path).split(/[\\/]/);
  if (parts.length === 1) return parts[0].replace(/\.ts$/, '');
  return parts[0] === 'web' && parts[1] === 'client' ? 'web/client' : parts[0];
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/gm;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => ({
    from: area(file),
    to: area(resolve(dirname(file), (m[3] ?? m[4]).replace(/\.js$/, '.ts'))),
    typeOnly: m[2] !== undefined,
  }));
}

const ALL = sourceFiles(SRC).flatMap((file) =>
  importsOf(file).map((i) => ({ ...i, file: relative(ROOT, file) })),
);

const FRONT = ['cli', 'server', 'web', 'web/client', 'bench'];
const CONNECTORS = ['connectors', 'singer', 'airbyte'];
/** What each area must never import (runtime or types), outermost layers last. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  errors: ['*'],
  clock: ['*'],
  limits: ['*'],
  redact: ['*'],
  catalog: ['harvest', 'sync', 'destinations', 'simulator', 'control', ...CONNECTORS, ...FRONT],
  harvest: ['sync', 'destinations', 'simulator', 'control', ...CONNECTORS, ...FRONT],
  'schema-fields': ['catalog', 'sync', 'destinations', 'simulator', 'control', ...CONNECTORS, ...FRONT],
  destinations: ['sync', 'harvest', 'simulator', 'control', ...CONNECTORS, ...FRONT],
  simulator: ['harvest', 'sync', 'destinations', 'control', ...CONNECTORS, ...FRONT],
  sync: ['simulator', 'control', ...CONNECTORS, ...FRONT],
  control: ['simulator', ...CONNECTORS, ...FRONT],
  connectors: ['simulator', ...FRONT],
  singer: ['simulator', 'airbyte', ...FRONT],
  airbyte: ['simulator', 'singer', ...FRONT],
  server: ['cli', 'web', 'web/client', 'bench', 'simulator'],
};

describe('dependencies point one way (README: Architecture)', () => {
  it('finds the imports it checks', () => {
    expect(ALL.filter((i) => i.from === 'sync' && i.to === 'catalog').length).toBeGreaterThan(0);
    expect(ALL.filter((i) => i.from === 'web/client' && i.typeOnly).length).toBeGreaterThan(0);
  });

  it.each(Object.entries(FORBIDDEN))('%s imports none of its outer layers', (from, forbidden) => {
    const wrong = ALL.filter(
      (i) => i.from === from && i.to !== from && (forbidden.includes('*') || forbidden.includes(i.to)),
    ).map((i) => `${i.file} → ${i.to}`);
    expect(wrong).toEqual([]);
  });

  it('the browser modules load only each other: anything else is a type import', () => {
    const wrong = ALL.filter((i) => i.from === 'web/client' && i.to !== 'web/client' && !i.typeOnly).map(
      (i) => `${i.file} → ${i.to}`,
    );
    expect(wrong).toEqual([]);
  });
});

/** Every .ts file under test/, as [path from the root, text]. */
function testFiles(dir = join(ROOT, 'test')): Array<[string, string]> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry): Array<[string, string]> => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : testFiles(path);
    return entry.name.endsWith('.ts') ? [[relative(ROOT, path), readFileSync(path, 'utf8')]] : [];
  });
}

describe('test helpers, once', () => {
  // this file names the patterns it looks for
  const files = testFiles().filter(([path]) => path !== 'test/architecture.test.ts');
  const outside = (allowed: readonly string[], pattern: RegExp) =>
    files.filter(([path, text]) => !allowed.includes(path) && pattern.test(text)).map(([path]) => path);

  it('one fake clock: test/support/clock.ts', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(outside(['test/support/clock.ts'], /\bimplements Clock\b|\bnow: \(\) => now\b/)).toEqual([]);
  });

  it('one place for the test databases: test/support/databases.ts', () => {
    const allowed = [
      'test/support/databases.ts',
      'test/support/prerequisites.ts',
      'test/prerequisites.test.ts',
    ];
    // a default database URL (`?? 'postgres://…'`) or the variables naming them, anywhere else
    expect(outside(allowed, /HARVEST_SYNC_TEST_(PG|MYSQL)_URL|\?\?\s*'(postgres|mysql):\/\//)).toEqual([]);
  });
});

describe('CONTRIBUTING.md', () => {
  const text = readFileSync(join(ROOT, 'CONTRIBUTING.md'), 'utf8');
  const paths = [...text.matchAll(/`((?:src|test|scripts)\/[^`\s]+)`/g)].map((m) => m[1]);

  it('names files and tests that exist', () => {
    expect(paths.length).toBeGreaterThan(5);
    // a placeholder such as src/destinations/<engine>/ names a pattern, not a file
    const named = paths.filter((path) => !path.includes('<'));
    expect(named.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  it('points each recipe at a test that keeps it honest', () => {
    const recipes = text.split(/^## /m).slice(1);
    expect(recipes.length).toBeGreaterThanOrEqual(3);
    for (const recipe of recipes) expect(recipe, recipe.split('\n')[0]).toMatch(/`test\/[^`]+\.test\.ts`/);
  });
});
