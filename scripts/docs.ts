/*
 * `npm run docs`: rewrites README.md's generated regions from the catalog (src/catalog/readme.ts),
 * formatted as `prettier --check` wants it. test/catalog/readme.test.ts fails until this has run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedReadme } from './readme.js';

const path = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(path, 'utf8');
const after = await generatedReadme(before, path);
if (after === before) {
  process.stdout.write('README.md is up to date\n');
} else {
  writeFileSync(path, after);
  process.stdout.write('README.md rewritten from the catalog\n');
}
