import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from './support/fixtures.js';

/*
 * A clone runs `npm test` with nothing beside it: no test or source file reaches outside the
 * repository, and every fixture is in test/fixtures/ with its source named in its README.
 */

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CODE = /\.(ts|tsx|js|mjs|cjs)$/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const codeFiles = () =>
  ['src', 'test']
    .flatMap((dir) => filesUnder(join(ROOT, dir)))
    .filter((f) => CODE.test(f))
    .concat(['vitest.config.ts', 'eslint.config.js', '.ci/run'].map((f) => join(ROOT, f)));

// Built from parts so that this file does not match its own patterns.
const HOME_DIRS = ['work', 'home', 'root', 'Users', 'mnt'].join('|');
const ABSOLUTE = new RegExp(`(^|[^\\w.-])/(${HOME_DIRS})/`, 'g');
const LITERAL = /(['"`])((?:\.\.?\/)[^'"`\s]*)\1/g;

/** The problems of one file: absolute paths into home-like folders, relative paths out of the repo. */
function outsideReferences(file: string, text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const at = `${relative(ROOT, file)}:${index + 1}`;
    for (const match of line.matchAll(ABSOLUTE)) problems.push(`${at}: absolute path ${match[0].trim()}…`);
    for (const match of line.matchAll(LITERAL)) {
      const target = resolve(dirname(file), match[2]);
      if (target !== ROOT && !target.startsWith(ROOT + sep))
        problems.push(`${at}: ${match[2]} points outside the repository`);
    }
  });
  return problems;
}

describe('tests stand on their own', () => {
  it('no file in src/ or test/ (or the test and CI config) reads outside the repository', () => {
    // this file's own examples of what the scan catches are strings it scans, never paths it reads
    const files = codeFiles().filter((f) => f !== fileURLToPath(import.meta.url));
    expect(files.length).toBeGreaterThan(100);
    const problems = files.flatMap((file) => outsideReferences(file, readFileSync(file, 'utf8')));
    expect(problems).toEqual([]);
  });

  it('the scan catches what it is meant to', () => {
    const file = join(ROOT, 'test', 'harvest', 'x.test.ts');
    const up = '../../..';
    const cases = [
      `readFileSync(new URL('${up}/shared/harvest-examples/errors.json', import.meta.url))`,
      `const EXAMPLES = '/${'work'}/shared/harvest-examples';`,
      `const p = "/${'home'}/me/data.json";`,
      `const u = 'file:///${'work'}/shared/x.json';`,
      'const q = `' + up + '/x`;',
    ];
    for (const text of cases) expect(outsideReferences(file, text), text).toHaveLength(1);
    const fine = [
      `import { x } from '../../src/errors.js';`,
      `readJsonFixture('harvest-examples/errors.json')`,
      `openDestination('sqlite:/tmp/x.db'); new URL('../fixtures/', import.meta.url)`,
      `destination: ['sqlite:../../etc/passwd']`,
    ];
    for (const text of fine) expect(outsideReferences(file, text), text).toEqual([]);
  });

  it('every fixture is named in test/fixtures/README.md, and every file named there exists', () => {
    const readme = readFileSync(join(FIXTURES_DIR, 'README.md'), 'utf8');
    const fixtures = filesUnder(FIXTURES_DIR)
      .map((f) => relative(FIXTURES_DIR, f).split(sep).join('/'))
      .filter((f) => f !== 'README.md');
    expect(fixtures.length).toBeGreaterThan(0);
    const named = [...readme.matchAll(/^\| `([^`]+)` +\|/gm)].map((m) => m[1]);
    expect(fixtures.filter((f) => !named.includes(f))).toEqual([]);
    expect(named.filter((f) => !statSync(join(FIXTURES_DIR, f), { throwIfNoEntry: false }))).toEqual([]);
  });
});
